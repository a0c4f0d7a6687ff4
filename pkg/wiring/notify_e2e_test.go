package wiring_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// hookReceiver is a webhook endpoint on 127.0.0.1 that keeps the events
// whose X-Switchyard-Signature-256 verifies, and counts the others.
type hookReceiver struct {
	srv    *httptest.Server
	secret []byte

	mu     sync.Mutex
	events []map[string]string
	forged int
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	h := &hookReceiver{secret: []byte(secret)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, h.secret)
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		h.mu.Lock()
		defer h.mu.Unlock()
		if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Switchyard-Signature-256"))) {
			h.forged++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev map[string]string
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body: %v: %s", err, body)
		}
		h.events = append(h.events, ev)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) find(event string) map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range h.events {
		if ev["event"] == event {
			return ev
		}
	}
	return nil
}

// stuckReceiver is a webhook endpoint that takes every delivery and never
// answers until the test ends; it counts what arrived.
func stuckReceiver(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var arrived atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for the handlers
	return srv, &arrived
}

// TestE2ERollbackIsAnnouncedOnTheWebhook: a failing canary is rolled back,
// and the signed webhook receives a rollback event naming the revert
// commit that is now the remote's head. Another webhook hangs on every
// delivery the whole time: the restore and the revert do not wait for it,
// nor does the first webhook.
func TestE2ERollbackIsAnnouncedOnTheWebhook(t *testing.T) {
	hook := newHookReceiver(t, "hook-secret")
	stuck, stuckArrived := stuckReceiver(t)
	e := newE2EWith(t, e2eOptions{Extra: `
notify "stuck" {
  type       = "webhook"
  url        = "` + stuck.URL + `/switchyard"
  secret_env = "NOTIFY_SECRET"
}

notify "ops" {
  type       = "webhook"
  url        = "` + hook.srv.URL + `/switchyard"
  secret_env = "NOTIFY_SECRET"
  events     = ["rollback", "started"]
}
`, Env: map[string]string{"NOTIFY_SECRET": "hook-secret"}})
	bad := e.push("Promote fraud v3", "v3", "[10, 50]")
	e.waitFor("the revert commit on the remote", func() bool {
		return strings.Contains(e.headMessage(), "Switchyard-Action: rollback")
	})
	revert := e.git.Head(e2eRepo)
	e.waitServing("v1")
	if stuckArrived.Load() == 0 {
		t.Error("the hanging webhook never got a delivery: it held nothing up")
	}
	e.waitFor("the rollback on the webhook", func() bool { return hook.find("rollback") != nil })
	ev := hook.find("rollback")
	if ev["commit"] != revert || ev["model"] != "fraud" || ev["stage"] != "production" ||
		ev["from"] != "v3" || ev["to"] != "v1" || !strings.Contains(ev["reason"], `check "errors" failed`) || ev["at"] == "" {
		t.Errorf("rollback event %v, want the revert commit %s", ev, revert)
	}
	if st := hook.find("started"); st == nil || st["commit"] != bad || st["to"] != "v3" {
		t.Errorf("started event %v, want commit %s", st, bad)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.forged != 0 {
		t.Errorf("%d deliveries without a valid signature", hook.forged)
	}
	for _, ev := range hook.events {
		if ev["event"] != "rollback" && ev["event"] != "started" {
			t.Errorf("an event the block did not ask for: %v", ev)
		}
	}
}
