package targets

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// replicaServer is one standalone router's admin API that a test can make
// dead (every call hangs until the caller gives up) or restart empty.
type replicaServer struct {
	t      testing.TB
	srv    *httptest.Server
	admin  atomic.Pointer[http.Handler]
	router atomic.Pointer[router.Router]
	dead   atomic.Bool
	// fail makes calls fail at once: failRefuse every call without acting
	// on it, failAfter every call after acting on it (the answer was
	// lost), failPut every table sent (refused with a 400).
	fail atomic.Int32
	// bytes counts the body bytes the replica's admin API answered.
	bytes atomic.Int64
	// now is the router's clock (nil: the wall clock); a fleet with a
	// fake clock needs its replicas on the same one.
	now func() time.Time
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.ResponseWriter.Write(p)
}

const (
	failRefuse = 1
	failAfter  = 2
	failPut    = 3
)

func newReplica(t testing.TB) *replicaServer { return newReplicaAt(t, nil) }

// newReplicaAt is a replica whose router reads the clock now.
func newReplicaAt(t testing.TB, now func() time.Time) *replicaServer {
	r := &replicaServer{t: t, now: now}
	r.restart()
	stop := make(chan struct{})
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.dead.Load() {
			// Read the body so that the server notices the client leave.
			_, _ = io.Copy(io.Discard, req.Body)
			select {
			case <-req.Context().Done():
			case <-stop:
			}
			return
		}
		switch r.fail.Load() {
		case failRefuse:
			http.Error(w, "refused", http.StatusServiceUnavailable)
			return
		case failAfter:
			(*r.admin.Load()).ServeHTTP(httptest.NewRecorder(), req)
			http.Error(w, "the answer was lost", http.StatusServiceUnavailable)
			return
		case failPut:
			if req.Method == http.MethodPut {
				http.Error(w, "table refused", http.StatusBadRequest)
				return
			}
		}
		(*r.admin.Load()).ServeHTTP(countingWriter{w, &r.bytes}, req)
	}))
	t.Cleanup(r.srv.Close)
	t.Cleanup(func() { close(stop) }) // runs first
	return r
}

// restart replaces the router with a new, empty one (a process restarted).
func (r *replicaServer) restart() {
	rt := router.New(router.Options{Now: r.now})
	r.t.Cleanup(func() { rt.Close() })
	h := router.NewAdminHandler(rt, "s3cret")
	r.router.Store(rt)
	r.admin.Store(&h)
}

func (r *replicaServer) table() traffic.Table { return r.router.Load().Table() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestFleet(t *testing.T, now func() time.Time, log *syncBuffer, reps ...*replicaServer) *Fleet {
	t.Helper()
	tgt, err := New(fleetSpec(reps...), Deps{Getenv: func(string) string { return "s3cret" }, ReplicaTimeout: 300 * time.Millisecond,
		Now: now, Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f, ok := tgt.(*Fleet)
	if !ok {
		t.Fatalf("a builtin router with %d admin URLs gave a %T, want a *Fleet", len(reps), tgt)
	}
	return f
}

// splitter returns tables splitting fraud/production between two
// backends started once, v8 getting the given percent.
func splitter(t testing.TB) func(v8 float64) traffic.Table {
	a, b := versionBackend(t, "v7"), versionBackend(t, "v8")
	return func(v8 float64) traffic.Table {
		return traffic.Table{Routes: []traffic.Route{route(map[string]string{"v7": a.URL, "v8": b.URL}, w("v7", 100-v8), w("v8", v8))}}
	}
}

func weightOf(t traffic.Table, version string) float64 {
	for _, r := range t.Routes {
		for _, w := range r.Weights {
			if w.Version == version {
				return w.Percent
			}
		}
	}
	return -1
}

func TestFleetGivesEveryReplicaTheSameGeneration(t *testing.T) {
	ctx := context.Background()
	splitTable := splitter(t)
	reps := []*replicaServer{newReplica(t), newReplica(t), newReplica(t)}
	now, advance := fakeClock(time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC))
	first := uint64(now().UnixMilli()) // generations are numbered from the clock
	var log syncBuffer
	f := newTestFleet(t, now, &log, reps...)
	for i, pct := range []float64{10, 10, 50} {
		if err := f.Apply(ctx, splitTable(pct)); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	// The same table twice keeps its generation: two distinct tables, in
	// the same millisecond.
	for _, r := range reps {
		got := r.table()
		if got.Generation != first+1 || weightOf(got, "v8") != 50 {
			t.Errorf("replica %s: generation %d, v8 at %v%%; want generation %d at 50%%", r.srv.URL, got.Generation, weightOf(got, "v8"), first+1)
		}
	}
	for _, st := range f.Replicas() {
		if !st.InSync || st.Generation != first+1 || st.Want != first+1 || st.LastContact.IsZero() || st.LastError != "" {
			t.Errorf("status %+v, want in sync at generation %d", st, first+1)
		}
	}
	// A new fleet target (a restarted or new leader reconciler) a second
	// later numbers its tables from its clock, above the replicas' own,
	// without reading them first.
	advance(time.Second)
	g := newTestFleet(t, now, &log, reps...)
	if err := g.Apply(ctx, splitTable(50)); err != nil {
		t.Fatal(err)
	}
	if got := reps[1].table().Generation; got != first+1000 {
		t.Errorf("a new fleet target's first table has generation %d, want %d (the clock's milliseconds)", got, first+1000)
	}
}

// A replica found holding a higher generation than the fleet's with
// another table (what a predecessor whose clock ran ahead leaves, or any
// other writer) is stale: it is given the current table, and the fleet's
// next table is numbered above what it read.
func TestFleetResendsAReplicaHoldingAHigherGeneration(t *testing.T) {
	ctx := context.Background()
	splitTable := splitter(t)
	reps := []*replicaServer{newReplica(t), newReplica(t)}
	clock := time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)
	var log syncBuffer
	f := newTestFleet(t, func() time.Time { return clock }, &log, reps...)
	if err := f.Apply(ctx, splitTable(25)); err != nil {
		t.Fatal(err)
	}
	gen := reps[0].table().Generation
	other := splitTable(90)
	other.Generation = gen + 5000
	if err := reps[1].router.Load().Update(other); err != nil {
		t.Fatal(err)
	}
	if err := f.Resync(ctx); err != nil {
		t.Fatalf("resync: %v", err)
	}
	if got := reps[1].table(); got.Generation != gen || weightOf(got, "v8") != 25 {
		t.Errorf("the replica that held generation %d: now generation %d with v8 at %v%%, want the current table (%d, 25%%)",
			other.Generation, got.Generation, weightOf(got, "v8"), gen)
	}
	if !strings.Contains(log.String(), "stale") || !strings.Contains(log.String(), reps[1].srv.URL) {
		t.Errorf("the log does not say the replica was stale:\n%s", log.String())
	}
	if err := f.Apply(ctx, splitTable(50)); err != nil {
		t.Fatal(err)
	}
	if got := reps[0].table().Generation; got != other.Generation+1 {
		t.Errorf("the next table has generation %d, want %d (above the highest one read)", got, other.Generation+1)
	}
}

func TestFleetRestoreReachesLiveReplicasWithoutWaitingForADeadOne(t *testing.T) {
	ctx := context.Background()
	splitTable := splitter(t)
	reps := []*replicaServer{newReplica(t), newReplica(t), newReplica(t)}
	var log syncBuffer
	f := newTestFleet(t, time.Now, &log, reps...)
	if err := f.Apply(ctx, splitTable(50)); err != nil {
		t.Fatal(err)
	}
	reps[2].dead.Store(true)
	err := f.Apply(ctx, splitTable(0)) // the restore
	if err == nil || !strings.Contains(err.Error(), reps[2].srv.URL) || !strings.Contains(err.Error(), "1 of 3 replicas") {
		t.Fatalf("apply with a dead replica: %v, want an error naming it", err)
	}
	for _, r := range reps[:2] {
		if got := weightOf(r.table(), "v8"); got != 0 {
			t.Errorf("live replica %s still sends %v%% to v8 after the restore", r.srv.URL, got)
		}
	}
	if err := f.Measurable(time.Now().Add(-time.Minute)); err == nil {
		t.Error("a window with a replica that did not acknowledge the table was measurable")
	}
	var behind int
	for _, st := range f.Replicas() {
		if !st.InSync {
			behind++
			if st.LastError == "" {
				t.Errorf("replica %s behind without a last error", st.Admin)
			}
		}
	}
	if behind != 1 {
		t.Errorf("%d replicas behind, want 1: %+v", behind, f.Replicas())
	}
	// It answers again: the retried Apply gives it the restore.
	reps[2].dead.Store(false)
	if err := f.Apply(ctx, splitTable(0)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := weightOf(reps[2].table(), "v8"); got != 0 {
		t.Errorf("the replica back sends %v%% to v8, want 0", got)
	}
}

func TestFleetResyncsAReplicaThatRestartedEmpty(t *testing.T) {
	ctx := context.Background()
	splitTable := splitter(t)
	now, advance := fakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	reps := []*replicaServer{newReplicaAt(t, now), newReplicaAt(t, now)}
	var log syncBuffer
	f := newTestFleet(t, now, &log, reps...)
	if err := f.Apply(ctx, splitTable(25)); err != nil {
		t.Fatal(err)
	}
	before := reps[0].bytes.Load() + reps[1].bytes.Load()
	if err := f.Resync(ctx); err != nil {
		t.Fatalf("resync of a fleet in sync: %v", err)
	}
	// Checking the generation of a replica in sync costs no table.
	if n := reps[0].bytes.Load() + reps[1].bytes.Load() - before; n != 0 {
		t.Errorf("a resync of a fleet in sync read %d bytes of answers, want none (304s)", n)
	}
	if strings.Contains(log.String(), "stale") {
		t.Fatalf("a fleet in sync logged a stale replica:\n%s", log.String())
	}
	windowStart := now()
	advance(10 * time.Second)
	if err := f.Measurable(windowStart); err != nil {
		t.Fatalf("a fleet in sync: %v", err)
	}
	reps[1].restart()
	advance(time.Second)
	if err := f.Resync(ctx); err != nil {
		t.Fatalf("resync: %v", err)
	}
	got := reps[1].table()
	if got.Generation != uint64(windowStart.UnixMilli()) || weightOf(got, "v8") != 25 {
		t.Fatalf("the restarted replica has generation %d with v8 at %v%%, want the current table", got.Generation, weightOf(got, "v8"))
	}
	if !strings.Contains(log.String(), "stale") || !strings.Contains(log.String(), reps[1].srv.URL) {
		t.Errorf("the log does not say the replica was stale:\n%s", log.String())
	}
	// Its measurements before the restart are gone: the window that
	// spans it is no data, the next one counts.
	if err := f.Measurable(windowStart); err == nil || !strings.Contains(err.Error(), reps[1].srv.URL) {
		t.Errorf("a window spanning the restart: %v, want an error naming the replica", err)
	}
	advance(time.Second)
	if err := f.Measurable(now()); err != nil {
		t.Errorf("a window after the resync: %v", err)
	}
}

// fakeClock is a clock that moves only when advanced.
func fakeClock(start time.Time) (now func() time.Time, advance func(time.Duration)) {
	var mu sync.Mutex
	return func() time.Time { mu.Lock(); defer mu.Unlock(); return start },
		func(d time.Duration) { mu.Lock(); start = start.Add(d); mu.Unlock() }
}

// fleetSpec is a builtin router block listing the replicas' admin URLs.
func fleetSpec(reps ...*replicaServer) *spec.Router {
	r := &spec.Router{Name: "edge", Type: "builtin", TokenEnv: "TOK"}
	for _, rep := range reps {
		r.Admins = append(r.Admins, rep.srv.URL)
	}
	r.Admin = r.Admins[0]
	return r
}

// TestLoneRouterRestartedEmptyGetsItsTableBack: a builtin block whose
// admin is one URL is a fleet of one, so the daemon's resync of an
// unchanged table gives a standalone router that restarted empty its
// table again, without waiting for the table to change.
func TestLoneRouterRestartedEmptyGetsItsTableBack(t *testing.T) {
	ctx := context.Background()
	splitTable := splitter(t)
	rep := newReplica(t)
	var log syncBuffer
	tgt, err := New(&spec.Router{Name: "edge", Type: "builtin", Admin: rep.srv.URL, TokenEnv: "EDGE_TOKEN"},
		Deps{Getenv: func(string) string { return "s3cret" }, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rs, ok := tgt.(interface{ Resync(context.Context) error })
	if !ok {
		t.Fatalf("a builtin router with one admin URL gave a %T, which cannot resync a router that restarted empty", tgt)
	}
	if err := tgt.Apply(ctx, splitTable(25)); err != nil {
		t.Fatal(err)
	}
	rep.restart()
	if got := len(rep.table().Routes); got != 0 {
		t.Fatalf("the restarted router holds %d routes, want none", got)
	}
	if err := rs.Resync(ctx); err != nil {
		t.Fatalf("resync: %v", err)
	}
	if got := weightOf(rep.table(), "v8"); got != 25 {
		t.Errorf("after one resync the restarted router sends %v%% to v8, want 25", got)
	}
	if !strings.Contains(log.String(), "giving it the current table") {
		t.Errorf("the log does not say the router was given its table again:\n%s", log.String())
	}
}

// A replica that restarted empty while no reconciler led (it died with
// the leader's host, say) is found holding no table by the new leader's
// first Apply: it gets the table like the others, the log says so, and a
// window that started before is no data, since it lost its part of it.
func TestFleetNewLeaderFindsAReplicaThatRestartedEmpty(t *testing.T) {
	ctx := context.Background()
	splitTable := splitter(t)
	now, advance := fakeClock(time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC))
	reps := []*replicaServer{newReplicaAt(t, now), newReplicaAt(t, now)}
	var log syncBuffer
	if err := newTestFleet(t, now, &log, reps...).Apply(ctx, splitTable(25)); err != nil {
		t.Fatal(err)
	}
	windowStart := now()
	advance(10 * time.Second)
	reps[1].restart()
	advance(time.Second)
	f := newTestFleet(t, now, &log, reps...) // the new leader's
	if err := f.Apply(ctx, splitTable(25)); err != nil {
		t.Fatal(err)
	}
	if got := reps[1].table(); weightOf(got, "v8") != 25 || got.Generation != reps[0].table().Generation {
		t.Errorf("the restarted replica after the new leader's first table: generation %d, v8 at %v%%", got.Generation, weightOf(got, "v8"))
	}
	if !strings.Contains(log.String(), "holds no numbered table") || !strings.Contains(log.String(), reps[1].srv.URL) {
		t.Errorf("the log does not say the replica held no table:\n%s", log.String())
	}
	err := f.Measurable(windowStart)
	if err == nil || !strings.Contains(err.Error(), reps[1].srv.URL) {
		t.Errorf("a window spanning the replica's restart: %v, want no data naming it", err)
	}
	if err != nil && strings.Contains(err.Error(), reps[0].srv.URL) {
		t.Errorf("the replica that kept its table is blamed: %v", err)
	}
	advance(time.Second)
	if err := f.Measurable(now()); err != nil {
		t.Errorf("a window after the new leader's first table: %v", err)
	}
}

// A replica that restarted and was given its table again by the old
// leader just before a failover holds a numbered table when the new
// leader first reads it, and the old leader's record of the resend died
// with it. The replica says how long it has held a table: a window that
// started before is no data to the new leader too.
func TestFleetNewLeaderFindsAReplicaTheOldLeaderResynced(t *testing.T) {
	ctx := context.Background()
	splitTable := splitter(t)
	now, advance := fakeClock(time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC))
	reps := []*replicaServer{newReplicaAt(t, now), newReplicaAt(t, now)}
	var log syncBuffer
	old := newTestFleet(t, now, &log, reps...)
	if err := old.Apply(ctx, splitTable(25)); err != nil {
		t.Fatal(err)
	}
	windowStart := now()
	advance(10 * time.Second)
	reps[1].restart()
	advance(time.Second)
	if err := old.Resync(ctx); err != nil {
		t.Fatalf("the old leader's resync: %v", err)
	}
	advance(time.Second)
	var newLog syncBuffer
	f := newTestFleet(t, now, &newLog, reps...) // the new leader's
	if err := f.Apply(ctx, splitTable(25)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(newLog.String(), "holds no numbered table") {
		t.Fatalf("the new leader found the resynced replica empty, so this is not the case under test:\n%s", newLog.String())
	}
	err := f.Measurable(windowStart)
	if err == nil || !strings.Contains(err.Error(), reps[1].srv.URL) || !strings.Contains(err.Error(), "2026-12-05T23:00:11Z") {
		t.Errorf("a window spanning the replica's restart: %v, want no data naming it and when it got its table", err)
	}
	if err != nil && strings.Contains(err.Error(), reps[0].srv.URL) {
		t.Errorf("the replica that kept its table is blamed: %v", err)
	}
	if err := f.Measurable(now().Add(-time.Second)); err != nil {
		t.Errorf("a window starting when the replica had its table again: %v", err)
	}
	// The next passes' reads keep it: a 304 says it too.
	advance(time.Second)
	if err := f.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Measurable(windowStart); err == nil || !strings.Contains(err.Error(), reps[1].srv.URL) {
		t.Errorf("after a resync read: %v, want no data naming the replica", err)
	}
}
