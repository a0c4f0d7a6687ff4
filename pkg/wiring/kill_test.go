package wiring_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/demo"
	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
	"github.com/switchyard-dev/switchyard/pkg/ha"
	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
	"github.com/switchyard-dev/switchyard/pkg/wiring"
)

// TestMain lets this test binary act as a reconciler process when
// SWITCHYARD_CHILD_REPO is set, so that a test can kill it with SIGKILL.
func TestMain(m *testing.M) {
	if repo := os.Getenv("SWITCHYARD_CHILD_REPO"); repo != "" {
		os.Exit(child(repo))
	}
	if addrs := os.Getenv("SWITCHYARD_CHILD_ROUTER"); addrs != "" {
		os.Exit(childRouter(addrs))
	}
	os.Exit(m.Run())
}

func child(repo string) int {
	ctx := context.Background()
	o := wiring.Options{
		Repo: repo, Branch: "main", Path: "rollouts", State: os.Getenv("SWITCHYARD_CHILD_STATE"),
		Listen: os.Getenv("SWITCHYARD_CHILD_LISTEN"), PollInterval: 200 * time.Millisecond, Tick: 100 * time.Millisecond,
		Getenv: os.Getenv,
	}
	if ep := os.Getenv("SWITCHYARD_CHILD_ETCD"); ep != "" {
		o.Etcd = &ha.Config{Endpoints: []string{ep}, ID: os.Getenv("SWITCHYARD_CHILD_ID"), LeaseTTL: 2 * time.Second,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)).With("replica", os.Getenv("SWITCHYARD_CHILD_ID"))}
		o.Logger = o.Etcd.Logger
	}
	run, err := wiring.Start(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	_ = run.Run(ctx)
	return 0
}

// tableLog records every routing table a standalone router accepts.
type tableLog struct {
	mu     sync.Mutex
	tables []traffic.Table
	at     []time.Time // when each table arrived
}

func (l *tableLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/v1/routes" {
			body, _ := io.ReadAll(r.Body)
			var t traffic.Table
			if json.Unmarshal(body, &t) == nil {
				l.mu.Lock()
				l.tables = append(l.tables, t)
				l.at = append(l.at, time.Now())
				l.mu.Unlock()
			}
			r.Body = io.NopCloser(bytesReader(body))
		}
		h.ServeHTTP(w, r)
	})
}

func (l *tableLog) since(n int) []traffic.Table {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]traffic.Table(nil), l.tables[n:]...)
}

func (l *tableLog) len() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.tables) }

func v2Weight(t traffic.Table) float64 {
	for _, r := range t.Routes {
		for _, w := range r.Weights {
			if w.Version == "v2" {
				return w.Percent
			}
		}
	}
	return 0
}

// TestKill9MidCanaryResumesWithoutFlap runs the reconciler as its own
// process against a standalone builtin router, kills it with SIGKILL in
// the middle of a canary, restarts it, and checks that no table the router
// receives after the restart puts the canary back below its step.
func TestKill9MidCanaryResumesWithoutFlap(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with processes; skipped in -short")
	}
	git := gittest.NewServer(t)
	urls := map[string]string{}
	for _, v := range []string{"v1", "v2"} {
		srv := httptest.NewServer(demo.ModelHandler(demo.ModelBehaviour{Version: v}))
		defer srv.Close()
		urls[v] = srv.URL
	}
	rt := router.New(router.Options{})
	defer rt.Close()
	data := httptest.NewServer(rt)
	defer data.Close()
	log := &tableLog{}
	admin := httptest.NewServer(log.wrap(router.NewAdminHandler(rt, "tok")))
	defer admin.Close()

	spec := func(serve string) string {
		return fmt.Sprintf(`router "edge" {
  type      = "builtin"
  admin     = %q
  token_env = "EDGE_TOKEN"
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = %q

  version "v1" { url = %q }
  version "v2" { url = %q }

  rollout {
    strategy = "canary"
    steps    = [10, 50, 90]
    bake     = "2s"
    interval = "500ms"
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.05
    min_requests = 5
  }
}
`, admin.URL, serve, urls["v1"], urls["v2"])
	}
	git.CreateRepo("specs", map[string]string{"rollouts/fraud.hcl": spec("v1")})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	load := &demo.Traffic{Client: &http.Client{Timeout: 2 * time.Second}, URL: data.URL + "/v1/fraud/predict", Rate: 100, Users: 100, Seed: 9}
	go load.Run(ctx)

	dir := t.TempDir()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	listen := ln.Addr().String()
	ln.Close()
	startChild := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SWITCHYARD_CHILD_REPO="+git.RepoURL("specs"),
			"SWITCHYARD_CHILD_STATE="+filepath.Join(dir, "state.db"), "SWITCHYARD_CHILD_LISTEN="+listen, "EDGE_TOKEN=tok")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	waitTable := func(what string, cond func(traffic.Table) bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if cond(rt.Table()) {
				return
			}
		}
		t.Fatalf("gave up waiting for %s; the router holds %+v", what, rt.Table())
	}

	first := startChild()
	waitTable("v1 at 100%", func(tb traffic.Table) bool { return len(tb.Routes) == 1 && v2Weight(tb) == 0 })
	git.CommitAs("specs", "Promote fraud v2", map[string]string{"rollouts/fraud.hcl": spec("v2")})
	waitTable("the second step", func(tb traffic.Table) bool { return v2Weight(tb) == 50 })

	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	before := log.len()
	second := startChild()
	defer func() { _ = second.Process.Kill(); _ = second.Wait() }()
	waitTable("the canary to complete after the restart", func(tb traffic.Table) bool { return v2Weight(tb) == 100 })
	after := log.since(before)
	if len(after) == 0 {
		t.Fatal("the restarted reconciler applied no table")
	}
	// It resumes at the step it was killed in (or the next one, if that
	// step's bake ran out during the restart), not from scratch and not by
	// adopting v2 at once.
	if w := v2Weight(after[0]); w != 50 && w != 90 {
		t.Fatalf("the first table after the restart gives v2 %g%%, want the step's 50%% (or the next, 90%%): %v", w, weights(after))
	}
	for i, tb := range after {
		if w := v2Weight(tb); w < 50 {
			t.Fatalf("table %d after the restart gives v2 %g%%: the canary flapped back below its step (all: %v)", i, w, weights(after))
		}
	}
}

func weights(ts []traffic.Table) []float64 {
	out := make([]float64, len(ts))
	for i, t := range ts {
		out[i] = v2Weight(t)
	}
	return out
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
