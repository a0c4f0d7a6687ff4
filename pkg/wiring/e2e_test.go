package wiring_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/demo"
	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/wiring"
	"github.com/switchyard-dev/switchyard/policies"
)

// e2e is one end-to-end world on 127.0.0.1: a git smart-HTTP server, model
// servers, the reconciler with its in-process builtin router, and traffic.
type e2e struct {
	t        testing.TB
	git      *gittest.Server
	urls     map[string]string
	router   string // the builtin router's listen address
	secret   []byte
	state    string
	poll     time.Duration // the reconciler's poll interval
	run      *wiring.Running
	stop     context.CancelFunc
	done     chan struct{}
	traffic  *demo.Traffic
	stopLoad context.CancelFunc
	loadDone chan struct{}
	// extra is appended to every spec (notify blocks); env is the
	// reconciler's environment; bake the rollout's bake ("" for 1500ms);
	// statusToken the reconciler's --status-token-env value.
	extra       string
	env         map[string]string
	bake        string
	statusToken string
	githubAPI   string
	pushMode    string
}

// e2eOptions vary the world of newE2EWith.
type e2eOptions struct {
	Poll        time.Duration // the reconciler's poll interval (default: an hour)
	Extra       string        // appended to every spec
	Env         map[string]string
	StatusToken string
	// GitHub reports deployments to this API (an httptest server) as
	// acme/models with the token "gh-t0ken" when set.
	GitHubAPI string
	// Push is the reconciler's --push: "pr" opens pull requests on
	// GitHubAPI instead of reporting deployments there.
	Push string
}

const e2eRepo = "specs"

// newE2E starts a world whose reconciler fetches only on the webhook.
func newE2E(t testing.TB) *e2e {
	t.Helper()
	return newE2EPolling(t, time.Hour)
}

// newE2EPolling starts a world whose reconciler also fetches every poll.
func newE2EPolling(t testing.TB, poll time.Duration) *e2e {
	t.Helper()
	return newE2EWith(t, e2eOptions{Poll: poll})
}

// newE2EWith starts a world as o says.
func newE2EWith(t testing.TB, o e2eOptions) *e2e {
	t.Helper()
	if o.Poll == 0 {
		o.Poll = time.Hour
	}
	if testing.Short() {
		t.Skip("end-to-end test with a real git server; skipped in -short")
	}
	e := &e2e{t: t, git: gittest.NewServer(t), urls: map[string]string{}, secret: []byte("s3cret"),
		state: filepath.Join(t.TempDir(), "switchyard.db"), poll: o.Poll, extra: o.Extra, env: o.Env, statusToken: o.StatusToken,
		githubAPI: o.GitHubAPI, pushMode: o.Push}
	for name, b := range map[string]demo.ModelBehaviour{
		"v1": {Version: "v1"}, "v2": {Version: "v2"}, "v3": {Version: "v3", ErrorRate: 0.3},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: demo.ModelHandler(b)}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { srv.Close() })
		e.urls[name] = "http://" + ln.Addr().String()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.router = ln.Addr().String()
	ln.Close()
	files := map[string]string{"rollouts/fraud.hcl": e.spec("v1", "[10, 50]")}
	addPolicies(files)
	e.git.CreateRepo(e2eRepo, files)
	e.start()
	t.Cleanup(e.kill)
	e.startLoad()
	e.waitServing("v1")
	return e
}

// spec is the e2e spec serving serve by a canary with steps ("" for
// all_at_once).
func (e *e2e) spec(serve, steps string) string {
	strategy := `strategy      = "canary"
    steps         = ` + steps
	if steps == "" {
		strategy = `strategy      = "all_at_once"`
	}
	return fmt.Sprintf(`router "edge" {
  type   = "builtin"
  listen = %q
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = %q

  version "v1" { url = %q }
  version "v2" { url = %q }
  version "v3" { url = %q }

  rollout {
    %s
    bake          = %q
    interval      = "500ms"
    failure_limit = 0
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.05
    min_requests = 10
  }
}
`, e.router, serve, e.urls["v1"], e.urls["v2"], e.urls["v3"], strategy, cmp.Or(e.bake, "1500ms")) + e.extra
}

// addPolicies adds the default policies (not their tests) to a new
// repository's files.
func addPolicies(files map[string]string) {
	entries, _ := fs.ReadDir(policies.Files, ".")
	for _, en := range entries {
		if !strings.HasSuffix(en.Name(), "_test.rego") {
			b, _ := policies.Files.ReadFile(en.Name())
			files["policies/"+en.Name()] = string(b)
		}
	}
}

// start runs the reconciler, fetching every e.poll (newE2E: an hour, so
// that only the webhook makes it fetch).
func (e *e2e) start() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	run, err := wiring.Start(ctx, wiring.Options{
		Repo: e.git.RepoURL(e2eRepo), Branch: "main", Path: "rollouts", Policies: "policies",
		State: e.state, Listen: "127.0.0.1:0", PollInterval: e.poll, Tick: 100 * time.Millisecond,
		WebhookSecret: e.secret, Getenv: func(k string) string { return e.env[k] }, StatusToken: e.statusToken,
		GitHubDeployments: e.githubAPI != "" && e.pushMode != "pr", GitHubAPI: e.githubAPI, GitHubRepo: "acme/models", Push: e.pushMode,
		GitHubToken: map[bool]string{true: "gh-t0ken"}[e.githubAPI != ""],
	})
	if err != nil {
		cancel()
		e.t.Fatalf("start: %v", err)
	}
	e.run, e.stop, e.done = run, cancel, make(chan struct{})
	go func() { defer close(e.done); _ = run.Daemon.Run(ctx) }()
}

// kill stops the reconciler without any goodbye (as far as a test in one
// process can): the loop ends and the state file is closed.
func (e *e2e) kill() {
	if e.stopLoad != nil {
		e.stopLoad()
		<-e.loadDone
		e.stopLoad = nil
	}
	if e.stop != nil {
		e.stop()
		<-e.done
		e.run.Close()
		e.stop = nil
	}
}

func (e *e2e) startLoad() {
	ctx, cancel := context.WithCancel(context.Background())
	e.traffic = &demo.Traffic{
		Client: &http.Client{Timeout: 2 * time.Second},
		URL:    "http://" + e.router + "/v1/fraud/predict", Rate: 200, Users: 1000, Seed: 3,
	}
	e.stopLoad, e.loadDone = cancel, make(chan struct{})
	go func() { defer close(e.loadDone); e.traffic.Run(ctx) }()
}

// push commits the spec as a user would merge a PR, and sends the signed
// push webhook.
func (e *e2e) push(msg, serve, steps string) string {
	e.t.Helper()
	sha := e.git.CommitAs(e2eRepo, msg, map[string]string{"rollouts/fraud.hcl": e.spec(serve, steps)})
	if code := e.webhook(e.secret); code != http.StatusOK && code != http.StatusAccepted && code != http.StatusNoContent {
		e.t.Fatalf("webhook answered %d", code)
	}
	return sha
}

func (e *e2e) webhook(secret []byte) int {
	e.t.Helper()
	body := []byte(`{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}`)
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.run.Addr+"/webhook/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("webhook: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (e *e2e) status() reconcile.ModelStatus {
	st := e.run.Daemon.Status()
	if len(st.Models) == 0 {
		return reconcile.ModelStatus{}
	}
	return st.Models[0]
}

// waitFor polls cond for up to 60 s (a bound, not a timing assertion).
func (e *e2e) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := e.run.Daemon.Status()
	b, _ := json.MarshalIndent(st, "", "  ")
	e.t.Fatalf("gave up waiting for %s; status:\n%s", what, b)
}

func (e *e2e) waitServing(version string) {
	e.t.Helper()
	e.waitFor(version+" at 100%", func() bool {
		m := e.status()
		return m.Serve == version && m.Rollout() == "" && weight(m, version) == 100
	})
	// The router itself answers from that version, every time (the
	// status shows a table only once the router has it).
	e.waitFor(version+" answering", func() bool { return e.ask() == version })
	for i := 0; i < 20; i++ {
		if got := e.ask(); got != version {
			e.t.Fatalf("request %d answered by %q, want %s", i, got, version)
		}
	}
}

// ask sends one request through the router and returns the version that answered.
func (e *e2e) ask() string {
	e.t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		resp, err := http.Post("http://"+e.router+"/v1/fraud/predict", "application/json", strings.NewReader(`{}`))
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			continue
		}
		return resp.Header.Get("X-Switchyard-Version")
	}
	return ""
}

func weight(m reconcile.ModelStatus, v string) float64 {
	for _, w := range m.Weights {
		if w.Version == v {
			return w.Percent
		}
	}
	return 0
}

// headMessage is the remote main's newest commit message.
func (e *e2e) headMessage() string {
	return e.git.Git(e2eRepo, "log", "-1", "--format=%B", "main")
}

func (e *e2e) checkRevert(badSha string) {
	e.t.Helper()
	e.waitFor("the revert commit on the remote", func() bool {
		return strings.Contains(e.headMessage(), "Switchyard-Action: rollback")
	})
	msg := e.headMessage()
	for _, want := range []string{
		"Switchyard-Action: rollback", "Switchyard-Model: fraud/production",
		"Switchyard-Reverts: " + badSha, `check "errors" failed`, "rolled back from v3 to v2",
	} {
		if !strings.Contains(msg, want) {
			e.t.Errorf("revert message lacks %q:\n%s", want, msg)
		}
	}
	if src := e.git.Show(e2eRepo, "main", "rollouts/fraud.hcl"); !strings.Contains(src, `serve  = "v2"`) {
		e.t.Errorf("the spec at the remote's head does not serve v2:\n%s", src)
	}
}

func TestE2EMergeCanaryCompletesAndBadVersionIsReverted(t *testing.T) {
	e := newE2E(t)
	e.push("Promote fraud v2", "v2", "[10, 50]")
	e.waitFor("the canary to start", func() bool { return e.status().Rollout() == "v1→v2" })
	e.waitServing("v2")

	bad := e.push("Promote fraud v3", "v3", "[10, 50]")
	e.checkRevert(bad)
	e.waitServing("v2")
}

func TestE2ERevertLandsOverAConcurrentPush(t *testing.T) {
	e := newE2E(t)
	e.push("Promote fraud v2", "v2", "[10, 50]")
	e.waitServing("v2")
	// Someone else pushes an unrelated change just as the reconciler pushes
	// its revert: the first push is rejected and the revert is re-applied.
	var once sync.Once
	e.git.BeforeNextPush(func() {
		once.Do(func() {
			e.git.CommitAs(e2eRepo, "Document the fraud model", map[string]string{"README.md": "fraud model\n"})
		})
	})
	bad := e.push("Promote fraud v3", "v3", "[10, 50]")
	e.checkRevert(bad)
	if log := e.git.Git(e2eRepo, "log", "--format=%s", "main"); !strings.Contains(log, "Document the fraud model") {
		t.Fatalf("the other push was lost:\n%s", log)
	}
	e.waitServing("v2")
}

func TestE2EGitServerDownDuringRevert(t *testing.T) {
	e := newE2E(t)
	e.push("Promote fraud v2", "v2", "[10, 50]")
	e.waitServing("v2")
	bad := e.push("Promote fraud v3", "v3", "[10, 50]")
	e.waitFor("the v3 canary to start", func() bool { return e.status().Rollout() == "v2→v3" })
	e.git.BeforeNextPush(e.git.Stop) // the server dies as the revert's push starts
	e.waitFor("traffic restored with the push pending", func() bool {
		m := e.status()
		st := e.run.Daemon.Status()
		return m.Held && weight(m, "v2") == 100 && len(st.PendingCommits) > 0 && st.PendingCommits[0].Attempts > 0
	})
	for i := 0; i < 20; i++ {
		if got := e.ask(); got != "v2" {
			t.Fatalf("while Git is down, a request was answered by %q, want v2", got)
		}
	}
	e.git.Start()
	e.checkRevert(bad)
	e.waitFor("no pending commit", func() bool { return len(e.run.Daemon.Status().PendingCommits) == 0 })
}

func TestE2EKilledMidCanaryResumesAtTheSameStep(t *testing.T) {
	e := newE2E(t)
	e.push("Promote fraud v2 slowly", "v2", "[10, 50, 90]")
	e.waitFor("the second step", func() bool { m := e.status(); return m.Rollout() == "v1→v2" && m.Step == 2 })
	e.kill()
	e.start()
	e.startLoad()
	// The first state the restarted reconciler shows is the same step.
	e.waitFor("the first pass after restart", func() bool { return len(e.status().Weights) > 0 })
	m := e.status()
	if m.Rollout() == "v1→v2" && m.Step < 2 {
		t.Fatalf("after restart the canary is at step %d, want 2 or later: %+v", m.Step, m)
	}
	if m.Rollout() == "" && m.Serve != "v2" {
		t.Fatalf("after restart: %+v", m)
	}
	if weight(m, "v2") < 50 {
		t.Fatalf("after restart v2 has %g%% of traffic, want the step's 50%% or more (no flap)", weight(m, "v2"))
	}
	e.waitServing("v2")
}

func TestE2EHeadBreakingPolicyIsNotApplied(t *testing.T) {
	e := newE2E(t)
	good := e.run.Daemon.Status().Applied
	bad := e.push("Canary v2 starting at 30%", "v2", "[30, 60]")
	e.waitFor("the head to be rejected", func() bool {
		st := e.run.Daemon.Status()
		return st.Head == bad && st.HeadError != ""
	})
	st := e.run.Daemon.Status()
	if st.Applied != good || st.HeadError == "" {
		t.Fatalf("status: applied %s (want %s), head error %q", st.Applied, good, st.HeadError)
	}
	found := false
	for _, d := range st.HeadDiagnostics {
		if d.Source == "policy" && d.Severity == "error" && d.File == "rollouts/fraud.hcl" && d.Line > 0 {
			found = true
		}
	}
	if !found {
		t.Fatalf("status does not show the policy denial with its line: %+v", st.HeadDiagnostics)
	}
	e.waitServing("v1")
	// A bad signature fetches nothing.
	if code := e.webhook([]byte("wrong")); code != http.StatusUnauthorized {
		t.Fatalf("webhook with a bad signature answered %d, want 401", code)
	}
}
