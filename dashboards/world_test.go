package dashboards_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/demo"
	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/wiring"
)

// world is a reconciler with its in-process builtin router on 127.0.0.1,
// following a bare Git repository, with model servers and traffic. Its
// models exercise every panel at once: a canary that completes (fraud), one
// that fails its checks and is rolled back by a commit (risk), a shadow
// (echo) and an A/B test fed by feedback (ranker). Its checks judge error
// rates only, so that a slow machine cannot fail the healthy canary. Two
// webhooks hear of the rollback: one takes it, one refuses it for good
// (410), so that the notification panel sees a delivery and a failure.
type world struct {
	t        *testing.T
	dir      string // the working clone
	urls     map[string]string
	hooks    *hooks
	router   string
	run      *wiring.Running
	listen   string
	stopLoad context.CancelFunc
	loadDone chan struct{}
}

const worldSpec = `router "edge" {
  type   = "builtin"
  listen = %q
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = %q

  version "v1" { url = %q }
  version "v2" { url = %q }

  rollout {
    strategy = "canary"
    steps    = [50]
    bake     = "5s"
    interval = "1s"
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.05
    min_requests = 5
  }
}

model "risk" "production" {
  router = "edge"
  path   = "/v1/risk"
  serve  = %q

  version "v1" { url = %q }
  version "v3" { url = %q }

  rollout {
    strategy = "canary"
    steps    = [50]
    bake     = "5s"
    interval = "1s"
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.05
    min_requests = 5
  }
}

model "echo" "production" {
  router = "edge"
  path   = "/v1/echo"
  serve  = "v1"

  version "v1" { url = %q }
  version "v2" { url = %q }

  shadow {
    version       = "v2"
    compare       = "json"
    tolerance     = 0.001
    min_agreement = 0.5
    min_samples   = 50
  }
}

model "ranker" "production" {
  router = "edge"
  path   = "/v1/ranker"
  serve  = "v1"

  version "v1" { url = %q }
  version "v2" { url = %q }

  experiment {
    method      = "ab"
    variants    = { v1 = 50, v2 = 50 }
    reward      = "feedback"
    min_samples = 1000000
  }
}

notify "ops" {
  type   = "webhook"
  url    = %q
  events = ["rollback"]
}

notify "gone" {
  type   = "webhook"
  url    = %q
  events = ["rollback"]
}
`

func (w *world) spec(fraud, risk string) string {
	u := w.urls
	return fmt.Sprintf(worldSpec, w.router, fraud, u["v1"], u["v2"], risk, u["v1"], u["v3"],
		u["v1"], u["v2"], u["v1"], u["v2"], u["hook"]+"/ok", u["hook"]+"/gone")
}

// hooks is a webhook receiver: /ok takes notifications, /gone refuses
// them with 410 (not retried, so counted as failed at once).
type hooks struct {
	mu     sync.Mutex
	events []string // X-Switchyard-Event of those taken
}

func (h *hooks) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ok" {
		rw.WriteHeader(http.StatusGone)
		return
	}
	h.mu.Lock()
	h.events = append(h.events, r.Header.Get("X-Switchyard-Event"))
	h.mu.Unlock()
	rw.WriteHeader(http.StatusNoContent)
}

func (h *hooks) taken() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// newWorld starts model servers, a bare origin with the spec serving v1
// everywhere, and the reconciler listening on listen.
func newWorld(t *testing.T, listen string) *world {
	t.Helper()
	root := t.TempDir()
	w := &world{t: t, dir: filepath.Join(root, "work"), urls: map[string]string{}, listen: listen, hooks: &hooks{}}
	for name, h := range map[string]http.Handler{
		"v1":   demo.ModelHandler(demo.ModelBehaviour{Version: "v1", Conversion: 0.1}),
		"v2":   demo.ModelHandler(demo.ModelBehaviour{Version: "v2", Drift: 0.04, Conversion: 0.2}),
		"v3":   demo.ModelHandler(demo.ModelBehaviour{Version: "v3", ErrorRate: 0.3}),
		"hook": w.hooks,
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { srv.Close() })
		w.urls[name] = "http://" + ln.Addr().String()
	}
	w.router = freeAddr(t)

	origin := filepath.Join(root, "origin.git")
	w.git(root, "init", "-q", "--bare", "-b", "main", origin)
	w.git(root, "clone", "-q", origin, w.dir)
	w.commit("Add the models", w.spec("v1", "v1"))

	ctx, cancel := context.WithCancel(context.Background())
	run, err := wiring.Start(ctx, wiring.Options{
		Repo: origin, Branch: "main", Path: "rollouts",
		State: filepath.Join(root, "state.db"), Listen: listen,
		PollInterval: 300 * time.Millisecond, Tick: 100 * time.Millisecond,
	})
	if err != nil {
		cancel()
		t.Fatalf("starting the reconciler: %v", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = run.Daemon.Run(ctx) }()
	w.run = run
	t.Cleanup(func() {
		w.stopTraffic()
		cancel()
		<-done
		run.Close()
	})
	return w
}

func (w *world) git(dir string, args ...string) {
	w.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		w.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// commit writes the spec as one commit of its own and pushes it.
func (w *world) commit(msg, spec string) {
	w.t.Helper()
	p := filepath.Join(w.dir, "rollouts", "models.hcl")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		w.t.Fatal(err)
	}
	w.git(w.dir, "add", "-A")
	w.git(w.dir, "commit", "-q", "-m", msg)
	w.git(w.dir, "push", "-q", "origin", "main")
}

// startTraffic sends requests to every model, and feedback for the
// answers, until the test ends.
func (w *world) startTraffic() {
	ctx, cancel := context.WithCancel(context.Background())
	w.stopLoad, w.loadDone = cancel, make(chan struct{})
	client := &http.Client{Timeout: 5 * time.Second}
	conv := map[string]float64{"v1": 0.1, "v2": 0.2}
	var gens []*demo.Traffic
	for i, path := range []string{"/v1/fraud", "/v1/risk", "/v1/echo", "/v1/ranker"} {
		gens = append(gens, &demo.Traffic{Client: client, URL: "http://" + w.router + path + "/predict",
			FeedbackURL: "http://" + w.router + "/_switchyard/feedback", Rate: 40, Users: 500,
			Conversion: conv, Seed: uint64(i + 1)})
	}
	go func() {
		defer close(w.loadDone)
		finished := make(chan struct{}, len(gens))
		for _, g := range gens {
			go func() { g.Run(ctx); finished <- struct{}{} }()
		}
		for range gens {
			<-finished
		}
	}()
}

func (w *world) stopTraffic() {
	if w.stopLoad != nil {
		w.stopLoad()
		<-w.loadDone
		w.stopLoad = nil
	}
}

func (w *world) model(st reconcile.Status, name string) reconcile.ModelStatus {
	for _, m := range st.Models {
		if m.Model == name {
			return m
		}
	}
	return reconcile.ModelStatus{}
}

// waitFor polls the reconciler's status until cond holds, for at most
// limit.
func (w *world) waitFor(what string, limit time.Duration, cond func(reconcile.Status) bool) {
	w.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st := w.run.Daemon.Status()
		if cond(st) {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			reconcile.RenderStatus(&b, st)
			w.t.Fatalf("waited %s for %s; status:\n%s", limit, what, b.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// play runs the story every panel shows: traffic on every model, then a
// canary that completes, one that is rolled back, a shadow that decides
// and an experiment that collects rewards.
func (w *world) play() {
	w.t.Helper()
	w.waitFor("every model adopted", 30*time.Second, func(st reconcile.Status) bool {
		return len(st.Models) == 4 && st.Applied != ""
	})
	w.startTraffic()
	w.commit("Promote fraud v2", w.spec("v2", "v1"))
	w.commit("Promote risk v3", w.spec("v2", "v3"))
	w.waitFor("the fraud canary to complete, the risk canary to be rolled back, the shadow to decide and the experiment to count rewards",
		2*time.Minute, func(st reconcile.Status) bool {
			fraud, risk, echo, ranker := w.model(st, "fraud"), w.model(st, "risk"), w.model(st, "echo"), w.model(st, "ranker")
			done := fraud.Serve == "v2" && len(fraud.Weights) == 1 && fraud.Weights[0].Version == "v2" && fraud.Phase != "progressing" && fraud.Phase != "baking"
			rolledBack := risk.Serve == "v1" && len(risk.Weights) == 1 && risk.Weights[0].Version == "v1"
			shadow := echo.Shadow != nil && echo.Shadow.Decided
			arms := ranker.Experiment != nil && len(ranker.Experiment.Arms) == 2 &&
				ranker.Experiment.Arms[0].Samples > 0 && ranker.Experiment.Arms[1].Samples > 0
			return done && rolledBack && shadow && arms && len(st.PendingCommits) == 0
		})
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(w.hooks.taken(), "rollback") {
		if time.Now().After(deadline) {
			w.t.Fatalf("the webhook was not told of the rollback in 30s; it took %q", w.hooks.taken())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
