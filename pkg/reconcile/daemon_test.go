package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

const specTmpl = `router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:18080"
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "%s"

  version "v1" { url = "http://127.0.0.1:9101" }
  version "v2" { url = "http://127.0.0.1:9102" }
  version "v3" { url = "http://127.0.0.1:9103" }

  rollout {
    strategy = "canary"
    steps    = [10, 50]
    bake     = "10s"
    interval = "5s"
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.05
    min_requests = 10
  }
}
`

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeRepo is a branch of commits, each a whole tree.
type fakeRepo struct {
	mu       sync.Mutex
	commits  []string
	trees    map[string]fstest.MapFS
	failPush error
	written  []rollout.WriteCommit
	notes    map[string][]string
	// notesHead is what NotesHead answers: the notes ref as last fetched.
	notesHead string
	// onWrite sees the routers' state at the moment a commit is written.
	onWrite func(o rollout.WriteCommit)
}

func newFakeRepo() *fakeRepo {
	return &fakeRepo{trees: map[string]fstest.MapFS{}, notes: map[string][]string{}}
}

func (r *fakeRepo) commit(serve string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	sha := fmt.Sprintf("%040d", len(r.commits)+1)
	r.commits = append(r.commits, sha)
	r.trees[sha] = fstest.MapFS{"rollouts/fraud.hcl": {Data: []byte(fmt.Sprintf(specTmpl, serve))}}
	return sha
}

func (r *fakeRepo) commitRaw(src string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	sha := fmt.Sprintf("%040d", len(r.commits)+1)
	r.commits = append(r.commits, sha)
	r.trees[sha] = fstest.MapFS{"rollouts/fraud.hcl": {Data: []byte(src)}}
	return sha
}

func (r *fakeRepo) Fetch(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.commits[len(r.commits)-1], nil
}

func (r *fakeRepo) Tree(ctx context.Context, commit string) (fs.FS, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.trees[commit]
	if !ok {
		return nil, fmt.Errorf("no commit %s", commit)
	}
	return t, nil
}

func (r *fakeRepo) Write(ctx context.Context, o rollout.WriteCommit) (string, error) {
	if r.onWrite != nil {
		r.onWrite(o)
	}
	r.mu.Lock()
	fail := r.failPush
	r.mu.Unlock()
	if fail != nil {
		return "", fail
	}
	r.written = append(r.written, o)
	return r.commit(o.To), nil
}

func (r *fakeRepo) Note(ctx context.Context, commit string, note []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failPush != nil {
		return r.failPush
	}
	r.notes[commit] = append(r.notes[commit], string(note))
	return nil
}

func (r *fakeRepo) NotesHead(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.notesHead, nil
}

// setNotes moves the notes ref, as someone adding or replacing a note.
func (r *fakeRepo) setNotes(h string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notesHead = h
}

type fakeTarget struct {
	mu     sync.Mutex
	tables []traffic.Table
}

func (t *fakeTarget) Apply(ctx context.Context, tb traffic.Table) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tables = append(t.tables, tb)
	return nil
}

func (t *fakeTarget) Target(ctx context.Context, r *spec.Router) (Target, error) { return t, nil }

// weights is the last applied split of the fraud route, as "v1=90,v2=10".
func (t *fakeTarget) weights() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.tables) == 0 || len(t.tables[len(t.tables)-1].Routes) == 0 {
		return ""
	}
	var parts []string
	for _, w := range t.tables[len(t.tables)-1].Routes[0].Weights {
		if w.Percent > 0 {
			parts = append(parts, fmt.Sprintf("%s=%g", w.Version, w.Percent))
		}
	}
	return strings.Join(parts, ",")
}

// fakeMeasurer reports the error rate set for each version.
type fakeMeasurer struct {
	mu        sync.Mutex
	errorRate map[string]float64
}

func (f *fakeMeasurer) set(version string, rate float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errorRate[version] = rate
}

func (f *fakeMeasurer) Observe(ctx context.Context, tree *spec.Tree, m *spec.Model, st rollout.ModelState, now time.Time) (rollout.Observations, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, base, ok := st.Measuring()
	if !ok {
		return rollout.Observations{}, nil
	}
	return rollout.Observations{Checks: map[string]analysis.Measurement{
		"errors": {Check: "errors", Version: v, Value: f.errorRate[v], Baseline: f.errorRate[base], HasBaseline: true, Requests: 500},
	}}, nil
}

type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Save(k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = append([]byte(nil), v...)
	return nil
}
func (s *memStore) Delete(k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}
func (s *memStore) All() (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := map[string][]byte{}
	for k, v := range s.m {
		c[k] = v
	}
	return c, nil
}

func check(ctx context.Context, commit string, fsys fs.FS, base *spec.Tree, applied string) (*spec.Tree, []diag.Diagnostic) {
	return spec.Load(fsys, "rollouts")
}

type harness struct {
	t       *testing.T
	clock   *fakeClock
	repo    *fakeRepo
	target  *fakeTarget
	measure *fakeMeasurer
	store   *memStore
	d       *Daemon
}

func newHarness(t *testing.T) *harness {
	h := &harness{
		t:       t,
		clock:   &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)},
		repo:    newFakeRepo(),
		target:  &fakeTarget{},
		measure: &fakeMeasurer{errorRate: map[string]float64{}},
		store:   &memStore{m: map[string][]byte{}},
	}
	h.start()
	return h
}

func (h *harness) start() {
	d, err := New(Config{PollInterval: time.Second, PushBackoff: 5 * time.Second}, Deps{
		Repo: h.repo, Check: check, Routers: h.target, Measurer: h.measure, Store: h.store, Clock: h.clock,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.d = d
}

// run advances the clock by step n times, reconciling after each.
func (h *harness) run(n int, step time.Duration) {
	h.t.Helper()
	for i := 0; i < n; i++ {
		h.clock.Advance(step)
		if err := h.d.Reconcile(context.Background()); err != nil {
			h.t.Fatalf("reconcile: %v", err)
		}
	}
}

func TestCanaryCompletes(t *testing.T) {
	h := newHarness(t)
	h.repo.commit("v1")
	h.run(1, time.Second)
	if got := h.target.weights(); got != "v1=100" {
		t.Fatalf("first sight: weights %q, want v1=100", got)
	}
	h.repo.commit("v2")
	h.run(1, time.Second)
	if got := h.target.weights(); got != "v1=90,v2=10" {
		t.Fatalf("canary start: weights %q, want v1=90,v2=10", got)
	}
	h.run(60, time.Second)
	if got := h.target.weights(); got != "v2=100" {
		t.Fatalf("after the canary: weights %q, want v2=100", got)
	}
	if len(h.repo.written) != 0 {
		t.Fatalf("a successful canary wrote commits: %+v", h.repo.written)
	}
	if st := h.d.Status(); st.Models[0].Phase != string(rollout.PhaseSucceeded) && st.Models[0].Phase != string(rollout.PhaseIdle) {
		t.Fatalf("phase %q after success", st.Models[0].Phase)
	}
}

func TestFailedCanaryRestoresTrafficBeforeWritingGit(t *testing.T) {
	h := newHarness(t)
	h.repo.commit("v2")
	h.run(1, time.Second)
	h.measure.set("v3", 0.4)
	var atWrite string
	h.repo.onWrite = func(o rollout.WriteCommit) { atWrite = h.target.weights() }
	h.repo.commit("v3")
	h.run(15, time.Second)
	if got := h.target.weights(); got != "v2=100" {
		t.Fatalf("after failure: weights %q, want v2=100", got)
	}
	if atWrite != "v2=100" {
		t.Fatalf("when the commit was written the router held %q, want v2=100 (traffic first)", atWrite)
	}
	if len(h.repo.written) != 1 {
		t.Fatalf("wrote %d commits, want 1", len(h.repo.written))
	}
	o := h.repo.written[0]
	if o.Kind != rollout.CommitRollback || o.From != "v3" || o.To != "v2" || o.File != "rollouts/fraud.hcl" {
		t.Fatalf("outcome %+v", o)
	}
	if !strings.Contains(o.Reason, "error_rate") {
		t.Fatalf("reason %q does not say what failed", o.Reason)
	}
	// Our revert is now the head: Git agrees, the hold is released.
	h.run(3, time.Second)
	st := h.d.Status()
	if st.Models[0].Serve != "v2" || st.Models[0].Held {
		t.Fatalf("after the revert landed: %+v", st.Models[0])
	}
	if got := h.target.weights(); got != "v2=100" {
		t.Fatalf("weights %q after the revert landed", got)
	}
}

func TestPushFailureKeepsTrafficAndRetries(t *testing.T) {
	h := newHarness(t)
	h.repo.commit("v2")
	h.run(1, time.Second)
	h.measure.set("v3", 0.4)
	h.repo.failPush = errors.New("connection refused")
	h.repo.commit("v3")
	h.run(15, time.Second)
	if got := h.target.weights(); got != "v2=100" {
		t.Fatalf("weights %q, want v2=100 while the push fails", got)
	}
	st := h.d.Status()
	if len(st.PendingCommits) != 1 || st.PendingCommits[0].Attempts == 0 {
		t.Fatalf("pending commits %+v, want one with attempts", st.PendingCommits)
	}
	// Still held on v2 (not re-rolled to v3) while Git says v3.
	h.run(20, time.Second)
	if got := h.target.weights(); got != "v2=100" {
		t.Fatalf("weights %q: the model was re-rolled before Git agreed", got)
	}
	h.repo.mu.Lock()
	h.repo.failPush = nil
	h.repo.mu.Unlock()
	h.run(70, time.Second)
	if len(h.repo.written) != 1 {
		t.Fatalf("wrote %d commits after the remote came back, want 1", len(h.repo.written))
	}
	if st := h.d.Status(); len(st.PendingCommits) != 0 {
		t.Fatalf("still pending: %+v", st.PendingCommits)
	}
	// The rollout verdict noted while Git was down is written once it is
	// back: the daemon's queue holds notes as it holds commits.
	h.repo.mu.Lock()
	defer h.repo.mu.Unlock()
	found := 0
	for _, ns := range h.repo.notes {
		for _, n := range ns {
			if strings.Contains(n, `"kind":"rollout"`) && strings.Contains(n, `"v3"`) {
				found++
			}
		}
	}
	if found != 1 {
		t.Fatalf("the rollout verdict of v3 noted %d times after the remote came back, want 1: %v", found, h.repo.notes)
	}
}

func TestInvalidHeadIsNotApplied(t *testing.T) {
	h := newHarness(t)
	h.repo.commit("v1")
	h.run(1, time.Second)
	h.repo.commit("v9") // serve names no version
	h.run(2, time.Second)
	st := h.d.Status()
	if st.Head == st.Applied || st.HeadError == "" || len(st.HeadDiagnostics) == 0 {
		t.Fatalf("status does not say the head is rejected: %+v", st)
	}
	if got := h.target.weights(); got != "v1=100" {
		t.Fatalf("weights %q: the previous head should keep serving", got)
	}
}

func TestRestartResumesAtTheSameStep(t *testing.T) {
	h := newHarness(t)
	h.repo.commit("v1")
	h.run(1, time.Second)
	h.repo.commit("v2")
	h.run(12, time.Second) // into the second step
	before := h.target.weights()
	if before != "v1=50,v2=50" {
		t.Fatalf("weights %q, want the second step", before)
	}
	applied := len(h.target.tables)
	// kill -9: a new daemon from the same store, the router keeps its table.
	h.start()
	h.run(1, time.Second)
	if got := h.target.weights(); got != before {
		t.Fatalf("after restart weights %q, want %q (no flap)", got, before)
	}
	for _, tb := range h.target.tables[applied:] {
		for _, w := range tb.Routes[0].Weights {
			if w.Version == "v2" && w.Percent < 50 {
				t.Fatalf("restart flapped traffic: %+v", tb.Routes[0].Weights)
			}
		}
	}
	h.run(40, time.Second)
	if got := h.target.weights(); got != "v2=100" {
		t.Fatalf("after resuming: weights %q, want v2=100", got)
	}
}

func TestRestartRewritesACommitThatNeverLanded(t *testing.T) {
	h := newHarness(t)
	h.repo.commit("v2")
	h.run(1, time.Second)
	h.measure.set("v3", 0.4)
	h.repo.failPush = errors.New("connection refused")
	h.repo.commit("v3")
	h.run(15, time.Second)
	if len(h.repo.written) != 0 || len(h.d.Status().PendingCommits) != 1 {
		t.Fatalf("want one pending commit, got written %d pending %+v", len(h.repo.written), h.d.Status().PendingCommits)
	}
	// The reconciler restarts while the remote is still down, then the
	// remote comes back: the rollback is written from the persisted state.
	h.start()
	h.repo.mu.Lock()
	h.repo.failPush = nil
	h.repo.mu.Unlock()
	h.run(5, time.Second)
	if len(h.repo.written) != 1 || h.repo.written[0].Kind != rollout.CommitRollback || h.repo.written[0].File != "rollouts/fraud.hcl" {
		t.Fatalf("after restart: written %+v", h.repo.written)
	}
	if got := h.target.weights(); got != "v2=100" {
		t.Fatalf("weights %q after restart, want v2=100", got)
	}
}

func TestCheckerSeesTheCommitInForce(t *testing.T) {
	h := newHarness(t)
	type call struct{ commit, applied string }
	var calls []call
	d, err := New(Config{PollInterval: time.Second}, Deps{
		Repo: h.repo, Routers: h.target, Clock: h.clock,
		Check: func(ctx context.Context, commit string, fsys fs.FS, base *spec.Tree, applied string) (*spec.Tree, []diag.Diagnostic) {
			calls = append(calls, call{commit, applied})
			return check(ctx, commit, fsys, base, applied)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	first := h.repo.commit("v1")
	h.run(1, time.Second)
	second := h.repo.commit("v2")
	h.run(1, time.Second)
	rejected := h.repo.commitRaw("model {")
	h.run(1, time.Second)
	fourth := h.repo.commit("v3")
	h.run(1, time.Second)
	// A rejected head is not in force: the next head is judged against
	// the last one applied.
	want := []call{{first, ""}, {second, first}, {rejected, second}, {fourth, second}}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Fatalf("checker calls (commit, applied):\n%v\nwant\n%v", calls, want)
	}
}

// A commit in force before a restart whose specs no longer load (a newer
// reconciler validates more strictly) is not run on what could be read of
// it: a partial tree would drop the models that did not load.
func TestRestartDoesNotRunACommitInForceThatNoLongerLoads(t *testing.T) {
	h := newHarness(t)
	inForce := h.repo.commit("v1")
	h.run(1, time.Second)
	tables := len(h.target.tables)
	d, err := New(Config{PollInterval: time.Second}, Deps{
		Repo: h.repo, Routers: h.target, Measurer: h.measure, Store: h.store, Clock: h.clock,
		Check: func(ctx context.Context, commit string, fsys fs.FS, base *spec.Tree, applied string) (*spec.Tree, []diag.Diagnostic) {
			tree, _ := check(ctx, commit, fsys, base, applied)
			partial := *tree
			partial.Models = nil // the fraud model no longer decodes
			return &partial, []diag.Diagnostic{{Severity: diag.Error, Source: diag.SourceSchema,
				File: "rollouts/fraud.hcl", Line: 1, Summary: "Unsupported argument"}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	h.run(3, time.Second)
	st := h.d.Status()
	if st.Applied != "" || st.Head != inForce || st.HeadError == "" {
		t.Fatalf("status: applied %q head %q error %q; want nothing applied and the head rejected", st.Applied, st.Head, st.HeadError)
	}
	for _, tb := range h.target.tables[tables:] {
		if len(tb.Routes) == 0 {
			t.Fatalf("a table without the fraud route was applied after the restart: %+v", tb)
		}
	}
}
