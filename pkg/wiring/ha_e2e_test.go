package wiring_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"context"

	"github.com/switchyard-dev/switchyard/pkg/demo"
	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
	"github.com/switchyard-dev/switchyard/pkg/ha/etcdtest"
	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// childRouter runs a standalone builtin router, as `reconciler router
// --listen L --admin A` does, with the token in EDGE_TOKEN.
func childRouter(addrs string) int {
	f := strings.Fields(addrs)
	rt := router.New(router.Options{})
	data, err := net.Listen("tcp", f[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "router child:", err)
		return 2
	}
	admin, err := net.Listen("tcp", f[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "router child:", err)
		return 2
	}
	go func() {
		_ = router.NewServer(rt, router.ServerOptions{ReadHeaderTimeout: 10 * time.Second}).Serve(data)
	}()
	_ = (&http.Server{Handler: router.NewAdminHandler(rt, os.Getenv("EDGE_TOKEN")), ReadHeaderTimeout: 10 * time.Second}).Serve(admin)
	return 0
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type proc struct {
	t   testing.TB
	cmd *exec.Cmd
}

func startProc(t testing.TB, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd}
	t.Cleanup(p.kill)
	return p
}

// kill sends SIGKILL and reaps the process.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
}

// fleetReplica is one standalone router process with fixed addresses, so
// that it can be killed and started again, empty, where it was.
type fleetReplica struct {
	data, admin string
	p           *proc
}

func (r *fleetReplica) start(t testing.TB) {
	r.p = startProc(t, "SWITCHYARD_CHILD_ROUTER="+r.data+" "+r.admin, "EDGE_TOKEN=tok")
}

func (r *fleetReplica) table() (traffic.Table, error) {
	var tb traffic.Table
	req, _ := http.NewRequest(http.MethodGet, "http://"+r.admin+"/v1/routes", nil)
	req.Header.Set("Authorization", "Bearer tok")
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return tb, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return tb, errors.New(resp.Status)
	}
	return tb, json.NewDecoder(resp.Body).Decode(&tb)
}

func getStatus(addr string) (reconcile.Status, error) {
	var st reconcile.Status
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/api/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// TestHAFailoverAndFleetReplicaRestart runs etcd, two reconciler replicas
// and two standalone routers as real processes. Mid-canary, one router
// replica is killed with SIGKILL and started again empty: it is given the
// current table, and the rollout goes on. Then the leader is killed with
// SIGKILL: the standby takes over, resumes at the same step and completes
// the canary. No router's table ever goes back towards the old version.
func TestHAFailoverAndFleetReplicaRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with processes; skipped in -short")
	}
	etcd := etcdtest.Start(t)
	git := gittest.NewServer(t)
	urls := map[string]string{}
	for _, v := range []string{"v1", "v2"} {
		srv := httptest.NewServer(demo.ModelHandler(demo.ModelBehaviour{Version: v}))
		t.Cleanup(srv.Close)
		urls[v] = srv.URL
	}
	reps := []*fleetReplica{{data: freePort(t), admin: freePort(t)}, {data: freePort(t), admin: freePort(t)}}
	for _, r := range reps {
		r.start(t)
	}
	spec := func(serve string) string {
		return fmt.Sprintf(`router "edge" {
  type      = "builtin"
  admin     = ["http://%s", "http://%s"]
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
    steps    = [10, 30, 50, 70]
    bake     = "2s"
    interval = "500ms"
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.05
    min_requests = 5
  }
}
`, reps[0].admin, reps[1].admin, serve, urls["v1"], urls["v2"])
	}
	git.CreateRepo("specs", map[string]string{"rollouts/fraud.hcl": spec("v1")})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i, r := range reps {
		load := &demo.Traffic{Client: &http.Client{Timeout: 2 * time.Second}, URL: "http://" + r.data + "/v1/fraud/predict", Rate: 60, Users: 100, Seed: uint64(i + 1)}
		go load.Run(ctx)
	}

	// Sample every replica's table throughout: once the canary started,
	// the share of v2 on a replica that holds a table never goes down.
	var mu sync.Mutex
	peak := make([]float64, len(reps))
	var flaps []string
	sampling := make(chan struct{})
	go func() {
		defer close(sampling)
		for ctx.Err() == nil {
			for i, r := range reps {
				tb, err := r.table()
				if err != nil || len(tb.Routes) == 0 {
					continue // down, or restarted empty
				}
				w := v2Weight(tb)
				mu.Lock()
				if w < peak[i] {
					flaps = append(flaps, fmt.Sprintf("replica %d: v2 at %g%% after %g%% (generation %d)", i, w, peak[i], tb.Generation))
				}
				peak[i] = max(peak[i], w)
				mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	dir := t.TempDir()
	type replica struct {
		id, listen string
		p          *proc
	}
	recs := []*replica{{id: "a", listen: freePort(t)}, {id: "b", listen: freePort(t)}}
	startRec := func(r *replica) {
		r.p = startProc(t, "SWITCHYARD_CHILD_REPO="+git.RepoURL("specs"), "SWITCHYARD_CHILD_STATE="+filepath.Join(dir, r.id, "state.db"),
			"SWITCHYARD_CHILD_LISTEN="+r.listen, "SWITCHYARD_CHILD_ETCD="+etcd.Endpoint, "SWITCHYARD_CHILD_ID="+r.id, "EDGE_TOKEN=tok")
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if cond() {
				return
			}
		}
		st, _ := getStatus(recs[1].listen)
		t.Fatalf("gave up waiting for %s; b's status: %+v", what, st)
	}
	startRec(recs[0])
	waitFor("a to lead", func() bool {
		st, err := getStatus(recs[0].listen)
		return err == nil && st.Role == "leader" && st.Leader == "a"
	})
	startRec(recs[1])
	waitFor("b to stand by", func() bool {
		st, err := getStatus(recs[1].listen)
		return err == nil && st.Role == "standby" && st.Leader == "a"
	})
	bothAt := func(w float64) func() bool {
		return func() bool {
			for _, r := range reps {
				if tb, err := r.table(); err != nil || v2Weight(tb) < w {
					return false
				}
			}
			return true
		}
	}
	waitFor("v1 on both replicas", func() bool {
		for _, r := range reps {
			if tb, err := r.table(); err != nil || len(tb.Routes) != 1 {
				return false
			}
		}
		return true
	})
	git.CommitAs("specs", "Promote fraud v2", map[string]string{"rollouts/fraud.hcl": spec("v2")})
	waitFor("the canary's first step on both replicas", bothAt(10))

	// A router replica dies and comes back empty.
	reps[1].p.kill()
	waitFor("the leader to see the replica down", func() bool {
		st, err := getStatus(recs[0].listen)
		if err != nil {
			return false
		}
		for _, rs := range st.Fleets["edge"] {
			if strings.Contains(rs.Admin, reps[1].admin) && rs.LastError != "" {
				return true
			}
		}
		return false
	})
	reps[1].start(t)
	waitFor("the restarted replica to hold the current table", func() bool {
		a, err1 := reps[0].table()
		b, err2 := reps[1].table()
		return err1 == nil && err2 == nil && len(b.Routes) == 1 && b.Generation == a.Generation
	})
	waitFor("the canary's second step", bothAt(30))

	// The leader dies mid-canary: b takes over at the step a reached.
	st, err := getStatus(recs[0].listen)
	if err != nil || len(st.Models) != 1 {
		t.Fatalf("a's status: %+v %v", st, err)
	}
	stepAtKill := st.Models[0].Step
	recs[0].p.kill()
	waitFor("b to lead", func() bool {
		st, err := getStatus(recs[1].listen)
		return err == nil && st.Role == "leader" && st.Leader == "b"
	})
	waitFor("b to have its model", func() bool { st, err := getStatus(recs[1].listen); return err == nil && len(st.Models) == 1 })
	if st, _ := getStatus(recs[1].listen); st.Models[0].Step < stepAtKill || st.Models[0].To != "v2" {
		t.Fatalf("b resumed at step %d towards %q; a was at step %d towards v2", st.Models[0].Step, st.Models[0].To, stepAtKill)
	}
	waitFor("the canary to complete on both replicas", bothAt(100))
	waitFor("the sampler to see it too", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return peak[0] == 100 && peak[1] == 100
	})
	cancel()
	<-sampling
	mu.Lock()
	defer mu.Unlock()
	if len(flaps) > 0 {
		t.Fatalf("a replica's table went back towards v1:\n%s", strings.Join(flaps, "\n"))
	}
}

// haWorld is etcd, a git server, model servers v1 and v2, one standalone
// router (in this process, its tables logged) under load, and two
// reconciler replicas "a" and "b" as processes.
type haWorld struct {
	etcd   *etcdtest.Server
	git    *gittest.Server
	rt     *router.Router
	log    *tableLog
	listen map[string]string
	procs  map[string]*proc
	env    map[string][]string // each reconciler's, to start it again
	spec   func(serve string) string
}

// newHAWorld starts it, v2 failing errRate of its requests and the
// canary taking steps, and waits for a to lead with v1 on the router.
func newHAWorld(t testing.TB, errRate float64, steps, bake string) *haWorld {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with processes; skipped in -short")
	}
	w := &haWorld{etcd: etcdtest.Start(t), git: gittest.NewServer(t), log: &tableLog{},
		listen: map[string]string{"a": freePort(t), "b": freePort(t)}, procs: map[string]*proc{}, env: map[string][]string{}}
	urls := map[string]string{}
	for v, rate := range map[string]float64{"v1": 0, "v2": errRate} {
		srv := httptest.NewServer(demo.ModelHandler(demo.ModelBehaviour{Version: v, ErrorRate: rate}))
		t.Cleanup(srv.Close)
		urls[v] = srv.URL
	}
	w.rt = router.New(router.Options{})
	t.Cleanup(func() { w.rt.Close() })
	data := httptest.NewServer(w.rt)
	t.Cleanup(data.Close)
	admin := httptest.NewServer(w.log.wrap(router.NewAdminHandler(w.rt, "tok")))
	t.Cleanup(admin.Close)
	w.spec = func(serve string) string {
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
    strategy      = "canary"
    steps         = %s
    bake          = %q
    interval      = "500ms"
    failure_limit = 0
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.05
    min_requests = 5
  }
}
`, admin.URL, serve, urls["v1"], urls["v2"], steps, bake)
	}
	w.git.CreateRepo("specs", map[string]string{"rollouts/fraud.hcl": w.spec("v1")})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	load := &demo.Traffic{Client: &http.Client{Timeout: 2 * time.Second}, URL: data.URL + "/v1/fraud/predict", Rate: 100, Users: 100, Seed: 5}
	go load.Run(ctx)
	dir := t.TempDir()
	for _, id := range []string{"a", "b"} {
		w.env[id] = []string{"SWITCHYARD_CHILD_REPO=" + w.git.RepoURL("specs"), "SWITCHYARD_CHILD_STATE=" + filepath.Join(dir, id, "state.db"),
			"SWITCHYARD_CHILD_LISTEN=" + w.listen[id], "SWITCHYARD_CHILD_ETCD=" + w.etcd.Endpoint, "SWITCHYARD_CHILD_ID=" + id, "EDGE_TOKEN=tok"}
		w.procs[id] = startProc(t, w.env[id]...)
		if id == "a" {
			waitUntil(t, "a to lead", func() bool { return w.role("a") == "leader" })
		}
	}
	waitUntil(t, "v1 on the router", func() bool { return len(w.rt.Table().Routes) == 1 })
	return w
}

// role is a replica's role by its status ("" when it does not answer).
func (w *haWorld) role(id string) string {
	st, err := getStatus(w.listen[id])
	if err != nil {
		return ""
	}
	return st.Role
}

// leaders counts the replicas that say they lead.
func (w *haWorld) leaders() (n int) {
	for id := range w.listen {
		if w.role(id) == "leader" {
			n++
		}
	}
	return n
}

// TestHANewLeaderPushesTheRevertExactlyOnce: the leader restores traffic
// after a failed canary, Git goes down as it pushes the revert, and the
// leader is killed with SIGKILL. With Git back, the standby takes over
// from the state in etcd and pushes the revert: exactly one revert commit,
// and traffic never goes back to the bad version.
func TestHANewLeaderPushesTheRevertExactlyOnce(t *testing.T) {
	w := newHAWorld(t, 0.6, "[20, 50]", "2s")
	bad := w.git.CommitAs("specs", "Promote fraud v2", map[string]string{"rollouts/fraud.hcl": w.spec("v2")})
	waitUntil(t, "the canary to start", func() bool { return v2Weight(w.rt.Table()) > 0 })
	w.git.BeforeNextPush(w.git.Stop) // Git dies as the revert's push starts
	waitUntil(t, "traffic restored with the revert pending", func() bool {
		st, err := getStatus(w.listen["a"])
		return err == nil && v2Weight(w.rt.Table()) == 0 && len(st.PendingCommits) > 0 && st.PendingCommits[0].Attempts > 0
	})
	restoredAt := w.log.len()
	w.procs["a"].kill()
	w.git.Start()
	waitUntil(t, "b to lead", func() bool { return w.role("b") == "leader" })
	waitUntil(t, "the revert on the remote", func() bool {
		return strings.Contains(w.git.Git("specs", "log", "-1", "--format=%B", "main"), "Switchyard-Action: rollback")
	})
	// Let b run on past its own commit, two more fetches (and so at least
	// two more passes): a second revert would come now.
	var fetched time.Time
	waitUntil(t, "b to apply its own revert with nothing pending", func() bool {
		st, err := getStatus(w.listen["b"])
		fetched = st.LastFetch
		return err == nil && st.Applied == w.git.Head("specs") && len(st.PendingCommits) == 0
	})
	for i := range 2 {
		waitUntil(t, fmt.Sprintf("b's fetch %d after applying its revert", i+1), func() bool {
			st, err := getStatus(w.listen["b"])
			if err != nil || !st.LastFetch.After(fetched) {
				return false
			}
			fetched = st.LastFetch
			return true
		})
	}
	msgs := w.git.Git("specs", "log", "--format=%H %s%n%b", "main")
	if n := strings.Count(msgs, "Switchyard-Action: rollback"); n != 1 {
		t.Fatalf("%d revert commits, want exactly 1:\n%s", n, msgs)
	}
	if !strings.Contains(msgs, "Switchyard-Reverts: "+bad) {
		t.Errorf("the revert does not name %s:\n%s", bad, msgs)
	}
	after := w.log.since(restoredAt)
	for i, tb := range after {
		if v := v2Weight(tb); v != 0 {
			t.Fatalf("table %d after the restore sends %g%% to the bad version (all: %v)", i, v, weights(after))
		}
	}
}

// TestHAEtcdOutageStopsEveryoneAndOneLeaderResumes: with etcd gone for
// longer than the lease, no replica changes traffic or Git; when it is
// back, one replica leads again and the canary completes.
func TestHAEtcdOutageStopsEveryoneAndOneLeaderResumes(t *testing.T) {
	w := newHAWorld(t, 0, "[10, 30, 60]", "1500ms")
	w.git.CommitAs("specs", "Promote fraud v2", map[string]string{"rollouts/fraud.hcl": w.spec("v2")})
	waitUntil(t, "the canary to start", func() bool { return v2Weight(w.rt.Table()) > 0 })

	w.etcd.Stop()
	waitUntil(t, "no replica leading", func() bool { return w.leaders() == 0 })
	tables, head, live := w.log.len(), w.git.Head("specs"), v2Weight(w.rt.Table())
	time.Sleep(3 * time.Second) // bounded: well past the 2s lease
	if n := w.log.len(); n != tables {
		t.Fatalf("%d tables were applied while no replica held the lease: %v", n-tables, weights(w.log.since(tables)))
	}
	if h := w.git.Head("specs"); h != head {
		t.Fatalf("Git was written while no replica held the lease: %s -> %s", head, h)
	}
	if v := v2Weight(w.rt.Table()); v != live {
		t.Fatalf("traffic changed while no replica held the lease: v2 %g%% -> %g%%", live, v)
	}
	w.etcd.Restart()
	waitUntil(t, "one leader again", func() bool { return w.leaders() == 1 })
	waitUntil(t, "the canary to complete", func() bool { return v2Weight(w.rt.Table()) == 100 })
	if n := w.leaders(); n != 1 {
		t.Fatalf("%d leaders after etcd came back, want 1", n)
	}
	for i, tb := range w.log.since(tables) {
		if v := v2Weight(tb); v < live {
			t.Fatalf("table %d after etcd came back gives v2 %g%%, below the %g%% it had (all: %v)", i, v, live, weights(w.log.since(tables)))
		}
	}
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}
