package wiring_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/demo"
	"github.com/switchyard-dev/switchyard/pkg/gitops"
	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
	"github.com/switchyard-dev/switchyard/pkg/wiring"
)

// The strategy worlds: one per case, each with its own git smart-HTTP
// server, model servers, a standalone builtin router driven over its admin
// API, the reconciler and a stream of users who send feedback. Everything
// listens on 127.0.0.1.

// stratModels are the example versions every world serves: v3 is broken,
// rules is the heuristic, and users convert on v2 far more than on v1.
var stratModels = map[string]demo.ModelBehaviour{
	"v1":    {Version: "v1"},
	"v2":    {Version: "v2"},
	"v3":    {Version: "v3", ErrorRate: 0.4},
	"v4":    {Version: "v4"},
	"rules": {Version: "rules"},
}

var stratConversion = map[string]float64{"v1": 0.3, "v2": 0.9, "v3": 0.3, "v4": 0.3, "rules": 0.3}

const (
	stratRepo   = "specs"
	stratFile   = "rollouts/fraud.hcl"
	stratToken  = "e2e-admin-token"
	stratTokEnv = "E2E_ROUTER_TOKEN"
	stratHeader = "x-switchyard-preview"
)

type stratWorld struct {
	t       *testing.T
	git     *gittest.Server
	urls    map[string]string
	listen  string // the router's traffic address
	admin   string // the router's admin API address
	run     *wiring.Running
	traffic *demo.Traffic
}

// newStratWorld starts a world whose first commit serves v1 with body as
// the rest of the model block. Its router is a standalone builtin router
// process that the reconciler drives over the admin API; the e2e tests of
// e2e_test.go use the in-process one.
func newStratWorld(t *testing.T, body string) *stratWorld {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with a real git server; skipped in -short")
	}
	w := &stratWorld{t: t, git: gittest.NewServer(t), urls: map[string]string{}}
	for name, b := range stratModels {
		w.urls[name] = "http://" + serveOn(t, demo.ModelHandler(b))
	}
	// The router is a process of its own, a standalone builtin router
	// (childRouter, as `reconciler router` runs it), driven over its admin
	// API.
	w.listen, w.admin = freePort(t), freePort(t)
	startProc(t, "SWITCHYARD_CHILD_ROUTER="+w.listen+" "+w.admin, "EDGE_TOKEN="+stratToken)
	waitListening(t, w.admin)
	files := map[string]string{stratFile: w.spec("v1", body)}
	addPolicies(files)
	w.git.CreateRepo(stratRepo, files)

	ctx, cancel := context.WithCancel(context.Background())
	run, err := wiring.Start(ctx, wiring.Options{
		Repo: w.git.RepoURL(stratRepo), Branch: "main", Path: "rollouts", Policies: "policies",
		State: filepath.Join(t.TempDir(), "state.db"), PollInterval: 200 * time.Millisecond, Tick: 50 * time.Millisecond,
		Getenv: func(k string) string {
			if k == stratTokEnv {
				return stratToken
			}
			return ""
		},
	})
	if err != nil {
		cancel()
		t.Fatalf("start: %v", err)
	}
	w.run = run
	done := make(chan struct{})
	go func() { defer close(done); _ = run.Daemon.Run(ctx) }()
	w.traffic = &demo.Traffic{
		Client: &http.Client{Timeout: 2 * time.Second},
		URL:    "http://" + w.listen + "/v1/fraud/predict", FeedbackURL: "http://" + w.listen + "/_switchyard/feedback",
		Rate: 120, Users: 500, Seed: 11, Conversion: stratConversion,
	}
	lctx, lcancel := context.WithCancel(context.Background())
	ldone := make(chan struct{})
	go func() { defer close(ldone); w.traffic.Run(lctx) }()
	t.Cleanup(func() {
		lcancel()
		<-ldone
		cancel()
		<-done
		run.Close()
	})
	w.waitFor("v1 serving", func() bool { return w.ask(nil) == "v1" })
	return w
}

// serveOn serves h on a fresh 127.0.0.1 port until the test ends.
// waitListening waits until something accepts connections on addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens on %s after 20s", addr)
}

func serveOn(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// spec is the world's spec file serving serve, with body (rollout, checks,
// shadow, experiment) inside the model block.
func (w *stratWorld) spec(serve, body string) string {
	rt := fmt.Sprintf("admin     = \"http://%s\"\n  token_env = %q", w.admin, stratTokEnv)
	var versions strings.Builder
	for _, v := range []string{"v1", "v2", "v3", "v4"} {
		fmt.Fprintf(&versions, "  version %q { url = %q }\n", v, w.urls[v])
	}
	return fmt.Sprintf(`router "edge" {
  type = "builtin"
  %s
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = %q

%s  version "rules" {
    url       = %q
    heuristic = true
  }
%s}
`, rt, serve, versions.String(), w.urls["rules"], body)
}

// push commits the spec serving serve with body, as a merged PR would.
func (w *stratWorld) push(msg, serve, body string) string {
	w.t.Helper()
	return w.git.CommitAs(stratRepo, msg, map[string]string{stratFile: w.spec(serve, body)})
}

// waitFor polls cond for up to 90 s: a bound, not a timing assertion (the
// whole suite under the race detector on two cores is slow).
func (w *stratWorld) waitFor(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(40 * time.Millisecond)
	}
	b, _ := json.MarshalIndent(w.run.Daemon.Status(), "", "  ")
	w.t.Fatalf("gave up waiting for %s; status:\n%s\nremote log:\n%s", what, b, w.git.Git(stratRepo, "log", "--format=%h %s", "main"))
}

func (w *stratWorld) model() reconcile.ModelStatus {
	st := w.run.Daemon.Status()
	if len(st.Models) == 0 {
		return reconcile.ModelStatus{}
	}
	return st.Models[0]
}

// ask sends one request through the router (with extra headers) and
// returns the version that answered ("" on failure or a 5xx).
func (w *stratWorld) ask(hdr map[string]string) string {
	req, _ := http.NewRequest(http.MethodPost, "http://"+w.listen+"/v1/fraud/predict", strings.NewReader(`{}`))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return ""
	}
	return resp.Header.Get("X-Switchyard-Version")
}

// settled waits until version takes all traffic with no rollout, the
// head applied, and then asserts that the router answers only from it and
// that its table says so.
func (w *stratWorld) settled(version string) {
	w.t.Helper()
	w.waitFor(version+" at 100% with the head applied", func() bool {
		st := w.run.Daemon.Status()
		m := w.model()
		return st.Head != "" && st.Head == st.Applied && st.Head == w.git.Head(stratRepo) &&
			m.Serve == version && m.Rollout() == "" && !m.Held && weight(m, version) == 100
	})
	if own := w.run.Daemon.Status().OwnCommitRejected; own != nil {
		w.t.Fatalf("the reconciler rejected its own commit: %+v", own)
	}
	w.waitFor(version+" answering", func() bool { return w.ask(nil) == version })
	for i := 0; i < 10; i++ {
		if got := w.ask(nil); got != version && got != "" {
			w.t.Fatalf("request %d answered by %q, want %s", i, got, version)
		}
	}
	var tbl traffic.Table
	w.adminGet("/v1/routes", &tbl)
	if len(tbl.Routes) != 1 {
		w.t.Fatalf("router table has %d routes, want 1: %+v", len(tbl.Routes), tbl)
	}
	for _, wt := range tbl.Routes[0].Weights {
		if want := map[bool]float64{true: 100, false: 0}[wt.Version == version]; wt.Percent != want {
			w.t.Fatalf("router table weights %+v, want 100%% on %s", tbl.Routes[0].Weights, version)
		}
	}
}

// previewTable is the router's route while it holds a blue/green preview
// table (green reached by the header only), or nil.
func (w *stratWorld) previewTable() *traffic.Route {
	var tb traffic.Table
	w.adminGet("/v1/routes", &tb)
	if len(tb.Routes) != 1 || tb.Routes[0].Preview == nil {
		return nil
	}
	for _, wt := range tb.Routes[0].Weights {
		if wt.Version == tb.Routes[0].Preview.Version && wt.Percent > 0 {
			return nil
		}
	}
	return &tb.Routes[0]
}

func (w *stratWorld) adminGet(path string, into any) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+w.admin+path, nil)
	req.Header.Set("Authorization", "Bearer "+stratToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		w.t.Fatalf("GET %s: %v", path, err)
	}
}

// outcome waits for the reconciler's commit with the trailer action on
// the remote and returns its message and the spec file it leaves.
func (w *stratWorld) outcome(action string) (msg, file string) {
	w.t.Helper()
	w.waitFor("the "+action+" commit on the remote", func() bool {
		return gitops.Trailers(w.git.Git(stratRepo, "log", "-1", "--format=%B", "main"))[gitops.TrailerAction] == action
	})
	msg = w.git.Git(stratRepo, "log", "-1", "--format=%B", "main")
	if tr := gitops.Trailers(msg); tr[gitops.TrailerModel] != "fraud/production" {
		w.t.Fatalf("trailers %v in:\n%s", tr, msg)
	}
	return msg, w.git.Show(stratRepo, "main", stratFile)
}

// note waits for the verdict note of kind on commit and returns it.
func (w *stratWorld) note(commit, kind string) map[string]any {
	w.t.Helper()
	var found map[string]any
	w.waitFor("a "+kind+" note on "+commit[:8], func() bool {
		out, err := w.git.TryGit(stratRepo, "notes", "--ref=switchyard", "show", commit)
		if err != nil {
			return false
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var n map[string]any
			if json.Unmarshal([]byte(line), &n) == nil && n["kind"] == kind {
				found = n
				return true
			}
		}
		return false
	})
	return found
}

func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, s)
		}
	}
}

func mustNotContain(t *testing.T, what, s string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(s, b) {
			t.Errorf("%s still has %q:\n%s", what, b, s)
		}
	}
}

const errorsCheck = `
  check "errors" {
    metric       = "error_rate"
    max          = 0.05
    min_requests = 3
  }
`

// rolloutBlock is a rollout block with short bakes, plus the errors check.
func rolloutBlock(lines string) string {
	return "\n  rollout {\n" + lines + `
    bake          = "2s"
    interval      = "1s"
    failure_limit = 0
  }
` + errorsCheck
}

func TestE2EStrategies(t *testing.T) {
	canary := rolloutBlock(`    strategy = "canary"
    steps    = [10, 50]`)
	cases := []struct {
		name string
		run  func(t *testing.T, w *stratWorld)
	}{
		{"all_at_once", func(t *testing.T, w *stratWorld) {
			body := rolloutBlock(`    strategy = "all_at_once"`)
			sha := w.push("Promote fraud v2", "v2", body)
			w.settled("v2")
			n := w.note(sha, "rollout")
			if p := n["payload"].(map[string]any); p["outcome"] != "succeeded" || p["strategy"] != "all_at_once" {
				t.Fatalf("rollout note %v", n)
			}
		}},
		{"canary", func(t *testing.T, w *stratWorld) {
			w.push("Promote fraud v2", "v2", canary)
			w.waitFor("the canary's second step", func() bool {
				m := w.model()
				return m.Rollout() == "v1→v2" && m.Step == 2 && weight(m, "v2") == 50
			})
			w.settled("v2")
		}},
		{"blue_green_preview", func(t *testing.T, w *stratWorld) {
			body := rolloutBlock(`    strategy      = "blue_green"
    keep_previous = "1m"`)
			w.push("Promote fraud v2 blue/green", "v2", body)
			// The status names the preview only once the router has its
			// table: from here on, requests with the header reach green.
			w.waitFor("the preview", func() bool { return w.model().Phase == "preview" })
			// During the preview only requests with the header reach green,
			// and the smoke tests that carry it give the checks their data.
			// Smoke tests with the header, as a team would send them.
			smoke := map[string]int{}
			var mu sync.Mutex
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				for ctx.Err() == nil {
					v := w.ask(map[string]string{stratHeader: "1"})
					mu.Lock()
					smoke[v]++
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
				}
			}()
			previewing := func() bool { m := w.model(); return m.Rollout() == "v1→v2" && weight(m, "v2") == 0 }
			// The router may switch before the status says so (the status
			// lags the router, never leads it): whether a plain request was
			// served by the preview table is the router's to say.
			routerPreviewing := func() bool { return w.previewTable() != nil }
			w.waitFor("the switch", func() bool {
				if !previewing() {
					return true
				}
				before := routerPreviewing()
				if plain := w.ask(nil); plain == "v2" && before && routerPreviewing() {
					t.Fatalf("a request without the preview header reached green during the preview")
				}
				return false
			})
			stop()
			<-done
			if smoke["v2"] == 0 || smoke["v1"] > 0 {
				t.Fatalf("preview-header requests answered by %v, want only v2", smoke)
			}
			w.settled("v2")
		}},
		{"blue_green_mirror", func(t *testing.T, w *stratWorld) {
			// No smoke tests: the router copies half the live requests to
			// green, and the checks get their data from the copies.
			body := rolloutBlock(`    strategy       = "blue_green"
    preview_mirror = 50
    keep_previous  = "1m"`)
			w.push("Promote fraud v2 blue/green, mirrored", "v2", body)
			w.waitFor("the preview", func() bool { return w.model().Phase == "preview" })
			mirrored := false
			w.waitFor("the switch", func() bool {
				if m := w.model(); m.Rollout() != "v1→v2" || weight(m, "v2") > 0 {
					return true
				}
				tb := w.previewTable()
				if tb == nil {
					return false
				}
				if sh := tb.Shadow; sh == nil || sh.Version != "v2" || sh.Percent != 50 {
					t.Fatalf("the router's preview table mirrors %+v, want 50%% to v2", tb.Shadow)
				}
				mirrored = true
				if plain := w.ask(nil); plain == "v2" && w.previewTable() != nil {
					t.Fatalf("a mirrored answer of green reached a client during the preview")
				}
				// The header still reaches green beside the mirror.
				if smoke := w.ask(map[string]string{stratHeader: "1"}); smoke == "v1" && w.previewTable() != nil {
					t.Fatalf("a preview-header request was answered by v1 during a mirrored preview")
				}
				return false
			})
			if !mirrored {
				t.Fatal("the router never held the mirrored preview table")
			}
			w.settled("v2")
			var tb traffic.Table
			w.adminGet("/v1/routes", &tb)
			if tb.Routes[0].Shadow != nil {
				t.Fatalf("still mirroring after the switch: %+v", tb.Routes[0].Shadow)
			}
		}},
		{"blue_green_mirror_rollback", func(t *testing.T, w *stratWorld) {
			// A broken green fails on the mirrored copies alone (no preview
			// header at all), while every client is still answered by v1.
			body := rolloutBlock(`    strategy       = "blue_green"
    preview_header = ""
    preview_mirror = 100`)
			bad := w.push("Promote fraud v3 blue/green, mirrored", "v3", body)
			stop := make(chan struct{})
			leaked := make(chan string, 1)
			go func() {
				for {
					select {
					case <-stop:
						close(leaked)
						return
					default:
					}
					if v := w.ask(nil); v == "v3" {
						leaked <- v
						close(leaked)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
			msg, file := w.outcome("rollback")
			close(stop)
			if v := <-leaked; v != "" {
				t.Fatal("a client was answered by v3, which only ever had mirrored copies")
			}
			mustContain(t, "rollback commit", msg, "Switchyard-Reverts: "+bad, `check "errors" failed`,
				"during preview (100% of live requests mirrored)")
			mustContain(t, "spec after the rollback", file, `serve  = "v1"`)
			w.settled("v1")
		}},
		{"rollback", func(t *testing.T, w *stratWorld) {
			bad := w.push("Promote fraud v3", "v3", canary)
			msg, file := w.outcome("rollback")
			mustContain(t, "rollback commit", msg, `Revert "Promote fraud v3"`, "This reverts commit "+bad,
				"Switchyard-Reverts: "+bad, `check "errors" failed`, "rolled back from v3 to v1")
			mustContain(t, "spec after the rollback", file, `serve  = "v1"`)
			w.settled("v1")
		}},
		{"fallback", func(t *testing.T, w *stratWorld) {
			body := rolloutBlock(`    strategy   = "canary"
    steps      = [10, 50]
    on_failure = "fallback"
    fallback   = "rules"`)
			w.push("Promote fraud v3", "v3", body)
			msg, file := w.outcome("fallback")
			mustContain(t, "fallback commit", msg, "Fall back fraud/production to rules", "fell back from v3 to rules", `check "errors" failed`)
			mustContain(t, "spec after the fallback", file, `serve  = "rules"`, `fallback   = "rules"`)
			w.settled("rules")
		}},
		{"roll_through", func(t *testing.T, w *stratWorld) {
			body := rolloutBlock(`    strategy     = "canary"
    steps        = [10, 50]
    on_failure   = "roll_through"
    roll_through = "v4"`)
			w.push("Promote fraud v3", "v3", body)
			msg, file := w.outcome("roll_through")
			mustContain(t, "roll_through commit", msg, "Roll fraud/production through to v4", `check "errors" failed`,
				`roll_through = "v4" is removed`, `on_failure = "roll_through" is removed`)
			mustContain(t, "spec after the roll-through", file, `serve  = "v4"`, `strategy     = "canary"`)
			mustNotContain(t, "spec after the roll-through", file, "roll_through")
			// The reconciler accepts its own commit and rolls v4 out from
			// v1 (the version live) by the model's canary, with its checks.
			w.waitFor("the canary of v4 from v1", func() bool { return w.model().Rollout() == "v1→v4" })
			w.settled("v4")
			if st := w.run.Daemon.Status(); st.HeadError != "" {
				t.Fatalf("head rejected: %s %+v", st.HeadError, st.HeadDiagnostics)
			}
		}},
		{"shadow_verdict", func(t *testing.T, w *stratWorld) {
			sha := w.push("Shadow fraud v2", "v1", `
  shadow {
    version       = "v2"
    percent       = 100
    compare       = "json"
    min_agreement = 0.5
    min_samples   = 100
  }
`)
			n := w.note(sha, "shadow")
			p := n["payload"].(map[string]any)
			if p["version"] != "v2" || p["passed"] != true || p["samples"].(float64) < 100 {
				t.Fatalf("shadow note %v", n)
			}
			if w.ask(nil) != "v1" {
				t.Fatal("the shadow's answer reached a client")
			}
		}},
		{"ab_promote", func(t *testing.T, w *stratWorld) {
			sha := w.push("A/B test v1 against v2", "v1", `
  experiment {
    method       = "ab"
    variants     = { v1 = 50, v2 = 50 }
    sticky       = "header:x-user-id"
    alpha        = 0.05
    min_samples  = 100
    auto_promote = true
  }
`)
			msg, file := w.outcome("promote")
			mustContain(t, "promote commit", msg, "Promote fraud/production to v2 (experiment winner)", "v2 beats v1", "The experiment block is removed.")
			mustContain(t, "spec after the promote", file, `serve  = "v2"`)
			mustNotContain(t, "spec after the promote", file, "experiment")
			if p := w.note(sha, "experiment")["payload"].(map[string]any); p["winner"] != "v2" || p["promoted"] != true {
				t.Fatalf("experiment note %v", p)
			}
			w.settled("v2")
		}},
		{"bandit_promote", func(t *testing.T, w *stratWorld) {
			w.push("Bandit over v1 and v2", "v1", `
  experiment {
    method        = "bandit"
    variants      = { v1 = 50, v2 = 50 }
    min_samples   = 30
    explore_floor = 0.05
    promote_when  = 0.95
    auto_promote  = true
  }
`)
			msg, file := w.outcome("promote")
			mustContain(t, "promote commit", msg, "Promote fraud/production to v2 (experiment winner)", "v2 is best with probability")
			mustContain(t, "spec after the promote", file, `serve  = "v2"`)
			mustNotContain(t, "spec after the promote", file, "experiment")
			w.settled("v2")
		}},
		{"conclude_no_winner", func(t *testing.T, w *stratWorld) {
			// v1 and v4 convert alike; alpha is tiny so that noise never
			// declares a winner, and the sample horizon concludes.
			sha := w.push("A/B test v1 against v4", "v1", `
  experiment {
    method       = "ab"
    variants     = { v1 = 50, v4 = 50 }
    alpha        = 0.0001
    min_samples  = 5
    auto_promote = false
  }
`)
			msg, file := w.outcome("conclude")
			mustContain(t, "conclude commit", msg, "Conclude experiment on fraud/production", "no winner", "v1 keeps serving")
			mustContain(t, "spec after the conclude", file, `serve  = "v1"`)
			mustNotContain(t, "spec after the conclude", file, "experiment")
			if p := w.note(sha, "experiment")["payload"].(map[string]any); p["outcome"] != "no_difference" {
				t.Fatalf("experiment note %v", p)
			}
			w.settled("v1")
		}},
	}
	// Four worlds at a time, whatever -parallel says: they mostly wait on
	// bakes and samples, and one at a time would take minutes; more at once
	// starve each other of CPU under the race detector.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, tc := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(tc.name, func(t *testing.T) {
				w := newStratWorld(t, errorsCheck)
				tc.run(t, w)
			})
		}()
	}
	wg.Wait()
}
