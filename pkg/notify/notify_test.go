package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// receiver is a webhook endpoint on 127.0.0.1 that verifies signatures
// and answers each request with the next status of script (200 after it).
type receiver struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server

	mu       sync.Mutex
	script   []int
	got      []Event
	bodies   [][]byte
	attempts int
	badSig   int
	ids      []string // X-Switchyard-Delivery of each event received
	arrived  chan struct{}
}

func newReceiver(t *testing.T, secret string, script ...int) *receiver {
	r := &receiver{t: t, secret: []byte(secret), script: script, arrived: make(chan struct{}, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer func() { r.mu.Unlock(); r.arrived <- struct{}{} }()
	r.attempts++
	if len(r.secret) > 0 && !Verify(r.secret, body, req.Header.Get(SignatureHeader)) {
		r.badSig++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if len(r.script) > 0 {
		code := r.script[0]
		r.script = r.script[1:]
		if code != http.StatusOK {
			w.WriteHeader(code)
			return
		}
	}
	if req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("content type %q", req.Header.Get("Content-Type"))
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("body is not an event: %v: %s", err, body)
	}
	if h := req.Header.Get(EventHeader); h != ev.Event {
		r.t.Errorf("%s = %q, body says %q", EventHeader, h, ev.Event)
	}
	if id := req.Header.Get(DeliveryHeader); len(id) != 32 {
		r.t.Errorf("%s = %q", DeliveryHeader, id)
	}
	r.ids = append(r.ids, req.Header.Get(DeliveryHeader))
	r.got = append(r.got, ev)
	r.bodies = append(r.bodies, body)
}

// wait blocks until n requests arrived (or fails the test after a
// generous bound: nothing here is timed).
func (r *receiver) wait(n int) {
	r.t.Helper()
	for {
		r.mu.Lock()
		done := r.attempts >= n
		r.mu.Unlock()
		if done {
			return
		}
		select {
		case <-r.arrived:
		case <-time.After(20 * time.Second):
			r.t.Fatalf("only %d of %d requests arrived", r.attempts, n)
		}
	}
}

// sleeps records the backoffs asked for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func start(t *testing.T, cfg Config, deps Deps) (*Dispatcher, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	deps.Metrics = NewMetrics(reg)
	d := New(cfg, deps)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return d, reg
}

// result reads switchyard_notifications_total{type, result} from reg.
func result(reg *prometheus.Registry, typ, res string) int {
	mfs, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "switchyard_notifications_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["type"] == typ && labels["result"] == res {
				return int(m.GetCounter().GetValue())
			}
		}
	}
	return 0
}

// waitFor polls cond (bounded) for results counted after a request arrived.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

var rollback = Event{Event: "rollback", Model: "fraud", Stage: "production", From: "v8", To: "v7",
	Reason: `check "errors" failed: error_rate 0.52 > max 0.01`, Commit: "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d",
	At: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}

func hookTo(url string, events ...string) map[string]*spec.Notify {
	if events == nil {
		events = spec.NotifyEvents
	}
	return map[string]*spec.Notify{"ops": {Name: "ops", Type: "webhook", URL: url, SecretEnv: "NOTIFY_SECRET", Events: events}}
}

func env(k string) string {
	if k == "NOTIFY_SECRET" {
		return "s3cret"
	}
	return ""
}

func TestWebhookSignedBody(t *testing.T) {
	r := newReceiver(t, "s3cret")
	d, m := start(t, Config{}, Deps{Getenv: env})
	d.Notify(hookTo(r.srv.URL), rollback)
	r.wait(1)
	waitFor(t, "delivered counted", func() bool { return result(m, "webhook", "delivered") == 1 })
	if r.badSig != 0 || len(r.got) != 1 {
		t.Fatalf("bad signatures %d, events %v", r.badSig, r.got)
	}
	if r.got[0] != rollback {
		t.Errorf("got %+v, want %+v", r.got[0], rollback)
	}
	var fields map[string]any
	_ = json.Unmarshal(r.bodies[0], &fields)
	for _, k := range []string{"event", "model", "stage", "from", "to", "reason", "commit", "at"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("body lacks %q: %s", k, r.bodies[0])
		}
	}
	if len(fields) != 8 {
		t.Errorf("body has %d fields, want the 8 of SPEC.md §9: %s", len(fields), r.bodies[0])
	}
}

func TestWrongSecretIsRejectedByAVerifyingReceiver(t *testing.T) {
	r := newReceiver(t, "another secret")
	d, m := start(t, Config{Attempts: 3}, Deps{Getenv: env})
	d.Notify(hookTo(r.srv.URL), rollback)
	r.wait(1)
	waitFor(t, "failed counted", func() bool { return result(m, "webhook", "failed") == 1 })
	if r.badSig != 1 || r.attempts != 1 {
		t.Errorf("a 401 is final: %d attempts, %d bad signatures", r.attempts, r.badSig)
	}
}

func TestRetriedWithBackoffUntilDelivered(t *testing.T) {
	r := newReceiver(t, "s3cret", 500, 503, 429, 200)
	var s sleeps
	d, m := start(t, Config{Backoff: time.Second, MaxBackoff: 3 * time.Second}, Deps{Getenv: env, Sleep: s.sleep})
	d.Notify(hookTo(r.srv.URL), rollback)
	r.wait(4)
	waitFor(t, "delivered counted", func() bool { return result(m, "webhook", "delivered") == 1 })
	if len(r.got) != 1 || r.got[0].Commit != rollback.Commit {
		t.Fatalf("events %v", r.got)
	}
	d.Notify(hookTo(r.srv.URL), rollback) // the same event again, a new delivery: same id
	r.wait(5)
	if len(r.ids) != 2 || r.ids[0] != r.ids[1] {
		t.Errorf("delivery ids %v: the same event has the same id", r.ids)
	}
	if result(m, "webhook", "retried") != 3 || result(m, "webhook", "failed") != 0 {
		t.Errorf("retried %d failed %d", result(m, "webhook", "retried"), result(m, "webhook", "failed"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	if len(s.d) != len(want) || s.d[0] != want[0] || s.d[1] != want[1] || s.d[2] != want[2] {
		t.Errorf("backoffs %v, want %v", s.d, want)
	}
}

func TestGivesUpAfterAttemptsAndLogsWithoutTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T0/B0/TOPSECRETTOKEN"
	srv.Close() // connection refused from now on
	var logs bytes.Buffer
	var s sleeps
	d, m := start(t, Config{Attempts: 3}, Deps{Getenv: env, Sleep: s.sleep, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	d.Notify(map[string]*spec.Notify{"chat": {Name: "chat", Type: "slack", URL: url, Events: spec.NotifyEvents}}, rollback)
	waitFor(t, "failed counted", func() bool { return result(m, "slack", "failed") == 1 })
	if result(m, "slack", "retried") != 2 {
		t.Errorf("retried %d, want 2", result(m, "slack", "retried"))
	}
	if strings.Contains(logs.String(), "TOPSECRETTOKEN") {
		t.Errorf("the log shows the URL's secret:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "notification failed") {
		t.Errorf("the failure is not logged:\n%s", logs.String())
	}
}

func TestMissingSecretSendsNothing(t *testing.T) {
	r := newReceiver(t, "")
	d, m := start(t, Config{}, Deps{Getenv: func(string) string { return "" }})
	d.Notify(hookTo(r.srv.URL), rollback)
	waitFor(t, "failed counted", func() bool { return result(m, "webhook", "failed") == 1 })
	if r.attempts != 0 {
		t.Errorf("an unsigned delivery went out")
	}
}

func TestOnlyTheEventsABlockAsksFor(t *testing.T) {
	r := newReceiver(t, "s3cret")
	d, m := start(t, Config{}, Deps{Getenv: env})
	started := rollback
	started.Event = "started"
	d.Notify(hookTo(r.srv.URL, "rollback"), started)
	d.Notify(hookTo(r.srv.URL, "rollback"), rollback)
	r.wait(1)
	waitFor(t, "delivered counted", func() bool { return result(m, "webhook", "delivered") == 1 })
	if len(r.got) != 1 || r.got[0].Event != "rollback" {
		t.Errorf("events %v", r.got)
	}
}

// TestFullQueueDropsOldestAndNeverBlocks: a receiver that hangs holds one
// delivery in flight; Notify keeps returning, the queue keeps the newest
// events, and the dropped ones are counted.
func TestFullQueueDropsOldestAndNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var ev Event
		_ = json.NewDecoder(req.Body).Decode(&ev)
		<-release
		mu.Lock()
		got = append(got, ev.Reason)
		mu.Unlock()
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	d, m := start(t, Config{QueueSize: 3}, Deps{Getenv: env})
	b := hookTo(srv.URL)
	ev := rollback
	ev.Reason = "first"
	d.Notify(b, ev)
	// Wait for the first to be in flight, then overflow the queue.
	waitFor(t, "the first delivery in flight", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, ds := range d.dests {
			return ds.busy && len(ds.items) == 0
		}
		return false
	})
	for i := 0; i < 50; i++ {
		ev.Reason = "n" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		d.Notify(b, ev)
	}
	if n := result(m, "webhook", "dropped"); n != 47 {
		t.Errorf("dropped %d, want 47", n)
	}
	close(release)
	waitFor(t, "four delivered", func() bool { return result(m, "webhook", "delivered") == 4 })
	mu.Lock()
	defer mu.Unlock()
	want := []string{"first", "nvb", "nwb", "nxb"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("delivered %v, want %v (the first, then the newest in order)", got, want)
	}
}

var update = os.Getenv("UPDATE_GOLDEN") != ""

// TestSlackReasonIsClipped: a long reason is escaped and cut to what a
// Slack section takes.
func TestSlackReasonIsClipped(t *testing.T) {
	ev := rollback
	ev.Reason = strings.Repeat("<&>", 3000)
	msg := Slack(ev)
	for _, b := range msg.Blocks {
		if b.Text != nil && len([]rune(b.Text.Text)) > 3000 {
			t.Errorf("a section of %d characters: Slack takes 3000", len([]rune(b.Text.Text)))
		}
	}
	if !strings.Contains(msg.Text, "&lt;&amp;&gt;") || !strings.Contains(msg.Text, "…") {
		t.Errorf("the reason is not escaped and clipped")
	}
}

// TestSlackMessagesGolden pins the Slack message of every event: people
// read them.
func TestSlackMessagesGolden(t *testing.T) {
	var b bytes.Buffer
	for _, name := range spec.NotifyEvents {
		ev := rollback
		ev.Event = name
		switch name {
		case "fallback":
			ev.To = "rules"
		case "roll_through":
			ev.To = "v9"
		case "promote":
			ev.From, ev.To, ev.Reason = "v7", "v8", "ab: v8 beats v7, p = 0.003 < alpha 0.05 after 2400 samples"
		case "conclude":
			ev.From, ev.To, ev.Reason = "v7", "v7", "ab: no difference between v7 and v8 after 20000 samples"
		case "paused":
			ev.From, ev.To, ev.Reason = "v7", "v8", `no data for a whole bake (1m) from check "errors" (0 of 50 requests)`
		case "rejected_head":
			ev.Model, ev.Stage, ev.From, ev.To, ev.Reason = "", "", "", "", "rollouts/fraud.hcl:12: Unknown strategy: \"canery\" is not a known strategy. Did you mean \"canary\"?"
		case "started", "succeeded":
			ev.From, ev.To, ev.Reason = "v7", "v8", ""
		}
		body, err := Body("slack", ev)
		if err != nil {
			t.Fatal(err)
		}
		var msg SlackMessage
		if err := json.Unmarshal(body, &msg); err != nil {
			t.Fatal(err)
		}
		if len(msg.Blocks) < 2 || msg.Blocks[0].Text == nil {
			t.Errorf("%s: blocks %+v", name, msg.Blocks)
		}
		b.WriteString("== " + name + "\n" + msg.Text + "\n")
	}
	golden := filepath.Join("testdata", "slack.txt")
	if update {
		_ = os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("Slack messages differ from %s (UPDATE_GOLDEN=1 rewrites it):\n%s", golden, b.String())
	}
}

// fakeSink takes "started" events, failing the first attempt of each.
type fakeSink struct {
	mu      sync.Mutex
	got     []Event
	attempt int
}

func (f *fakeSink) Type() string            { return "fake" }
func (f *fakeSink) Label() string           { return "fake sink" }
func (f *fakeSink) Wants(event string) bool { return event == "started" }
func (f *fakeSink) Deliver(ctx context.Context, ev Event) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempt++
	if f.attempt%2 == 1 {
		return true, errors.New("try again")
	}
	f.got = append(f.got, ev)
	return false, nil
}

func TestSinksGetWhatTheyWantWithoutNotifyBlocks(t *testing.T) {
	sink := &fakeSink{}
	var s sleeps
	d, reg := start(t, Config{}, Deps{Sleep: s.sleep, Sinks: []Sink{sink}})
	started := rollback
	started.Event = "started"
	d.Notify(nil, rollback)
	d.Notify(nil, started)
	waitFor(t, "delivered", func() bool { return result(reg, "fake", "delivered") == 1 })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.got) != 1 || sink.got[0].Event != "started" || result(reg, "fake", "retried") != 1 {
		t.Errorf("sink got %+v, retried %d", sink.got, result(reg, "fake", "retried"))
	}
}

// TestSlackBlockPostsAMessage: a slack block posts Slack's incoming-webhook
// JSON to its url, unsigned (Slack's url is the secret), and counts it.
func TestSlackBlockPostsAMessage(t *testing.T) {
	got := make(chan *http.Request, 1)
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	d, m := start(t, Config{}, Deps{Getenv: env})
	d.Notify(map[string]*spec.Notify{"chat": {Name: "chat", Type: "slack", URL: srv.URL + "/services/T0/B0/X", Events: spec.NotifyEvents}}, rollback)
	req, body := <-got, <-bodies
	waitFor(t, "delivered counted", func() bool { return result(m, "slack", "delivered") == 1 })
	var msg SlackMessage
	if err := json.Unmarshal(body, &msg); err != nil || !strings.Contains(msg.Text, "fraud/production") || len(msg.Blocks) < 2 {
		t.Errorf("Slack got %s (%v)", body, err)
	}
	if req.Method != http.MethodPost || req.URL.Path != "/services/T0/B0/X" || req.Header.Get("Content-Type") != "application/json" || req.Header.Get(SignatureHeader) != "" {
		t.Errorf("request %s %s, headers %v", req.Method, req.URL.Path, req.Header)
	}
}
