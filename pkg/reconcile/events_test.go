package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/notify"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

const notifyBlock = `
notify "ops" {
  type = "webhook"
  url  = "https://hooks.example.com/switchyard"
}
`

// recorder is a Notifier that keeps every event, and the split live on
// the router when it was announced.
type recorder struct {
	mu     sync.Mutex
	target *fakeTarget
	events []notify.Event
	splits []string
	blocks map[string]*spec.Notify // of the last event
}

func (r *recorder) Notify(blocks map[string]*spec.Notify, ev notify.Event) {
	split := r.target.weights()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blocks = blocks
	r.events = append(r.events, ev)
	r.splits = append(r.splits, split)
}

func (r *recorder) names() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Event)
	}
	return strings.Join(out, ",")
}

func (r *recorder) find(event string) (notify.Event, string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, e := range r.events {
		if e.Event == event {
			return e, r.splits[i], true
		}
	}
	return notify.Event{}, "", false
}

// gapMeasurer reports the error rate of fakeMeasurer, or no data at all
// while silent is set.
type gapMeasurer struct {
	fakeMeasurer
	silent bool
}

func (g *gapMeasurer) Observe(ctx context.Context, tree *spec.Tree, m *spec.Model, st rollout.ModelState, now time.Time) (rollout.Observations, error) {
	g.mu.Lock()
	silent := g.silent
	g.mu.Unlock()
	if silent {
		return rollout.Observations{Checks: map[string]analysis.Measurement{}}, nil
	}
	return g.fakeMeasurer.Observe(ctx, tree, m, st, now)
}

func (g *gapMeasurer) setSilent(b bool) {
	g.mu.Lock()
	g.silent = b
	g.mu.Unlock()
}

func notifyHarness(t *testing.T) (*harness, *recorder, *gapMeasurer) {
	h := newHarness(t)
	rec := &recorder{target: h.target}
	gm := &gapMeasurer{fakeMeasurer: fakeMeasurer{errorRate: map[string]float64{}}}
	d, err := New(Config{PollInterval: time.Second, PushBackoff: 5 * time.Second}, Deps{
		Repo: h.repo, Check: check, Routers: h.target, Measurer: gm, Store: h.store, Clock: h.clock,
		Notifier: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	return h, rec, gm
}

func (h *harness) commitNotify(serve string) string {
	return h.repo.commitRaw(fmt.Sprintf(specTmpl, serve) + notifyBlock)
}

func TestNotifyStartedAndSucceeded(t *testing.T) {
	h, rec, _ := notifyHarness(t)
	h.commitNotify("v1")
	h.run(1, time.Second)
	if got := rec.names(); got != "" {
		t.Fatalf("first sight announced %q", got)
	}
	sha := h.commitNotify("v2")
	h.run(60, time.Second)
	if got := rec.names(); got != "started,succeeded" {
		t.Fatalf("events %q, want started,succeeded", got)
	}
	ev, _, _ := rec.find("started")
	if ev.Model != "fraud" || ev.Stage != "production" || ev.From != "v1" || ev.To != "v2" || ev.Commit != sha || ev.At.IsZero() {
		t.Errorf("started: %+v (commit %s)", ev, sha)
	}
	if rec.blocks["ops"] == nil || rec.blocks["ops"].URL != "https://hooks.example.com/switchyard" {
		t.Errorf("announced with the blocks %v, want the tree's", rec.blocks)
	}
	ev, split, _ := rec.find("succeeded")
	if ev.From != "v1" || ev.To != "v2" || ev.Commit != sha || split != "v2=100" {
		t.Errorf("succeeded: %+v with split %q", ev, split)
	}
}

func TestNotifyRollbackAfterTrafficWithTheRevertCommit(t *testing.T) {
	h, rec, gm := notifyHarness(t)
	h.commitNotify("v1")
	h.run(1, time.Second)
	gm.set("v2", 0.5)
	h.commitNotify("v2")
	h.run(30, time.Second)
	if got := rec.names(); got != "started,rollback" {
		t.Fatalf("events %q, want started,rollback", got)
	}
	if len(h.repo.written) != 1 {
		t.Fatalf("written %+v", h.repo.written)
	}
	ev, split, _ := rec.find("rollback")
	revert := h.repo.commits[len(h.repo.commits)-1]
	if ev.Commit != revert || ev.From != "v2" || ev.To != "v1" || !strings.Contains(ev.Reason, `check "errors" failed`) {
		t.Errorf("rollback: %+v, want commit %s", ev, revert)
	}
	if split != "v1=100" {
		t.Errorf("announced with %q live: the restore comes first", split)
	}
}

func TestNotifyPausedOncePerPause(t *testing.T) {
	h, rec, gm := notifyHarness(t)
	h.commitNotify("v1")
	h.run(1, time.Second)
	gm.setSilent(true)
	h.commitNotify("v2")
	h.run(40, time.Second) // a whole bake without data, then many ticks paused
	if got := rec.names(); got != "started,paused" {
		t.Fatalf("events %q, want started,paused", got)
	}
	if ph := h.d.Status().Models[0].Phase; ph != string(rollout.PhasePaused) {
		t.Fatalf("phase %q", ph)
	}
	ev, _, _ := rec.find("paused")
	if ev.From != "v1" || ev.To != "v2" || !strings.Contains(ev.Reason, "errors") {
		t.Errorf("paused: %+v", ev)
	}
	gm.setSilent(false)
	h.run(6, time.Second) // data again: resumed
	gm.setSilent(true)
	h.run(40, time.Second) // and a second pause
	if got := rec.names(); got != "started,paused,paused" {
		t.Fatalf("events %q, want a second paused for the second pause", got)
	}
}

func TestNotifyRejectedHeadOnce(t *testing.T) {
	h, rec, _ := notifyHarness(t)
	h.commitNotify("v1")
	h.run(1, time.Second)
	bad := h.repo.commitRaw(strings.Replace(fmt.Sprintf(specTmpl, "v2"), `"canary"`, `"canery"`, 1) + notifyBlock)
	h.run(5, time.Second)
	h.repo.setNotes("notes-2") // judged again: not announced again
	h.run(2, time.Second)
	if got := rec.names(); got != "rejected_head" {
		t.Fatalf("events %q, want one rejected_head", got)
	}
	ev, _, _ := rec.find("rejected_head")
	if ev.Commit != bad || !strings.Contains(ev.Reason, "rollouts/fraud.hcl:") || !strings.Contains(ev.Reason, "Did you mean \"canary\"") {
		t.Errorf("rejected_head: %+v", ev)
	}
}

func TestNotifyOutcomeOnceWhenGitIsDown(t *testing.T) {
	h, rec, gm := notifyHarness(t)
	h.commitNotify("v1")
	h.run(1, time.Second)
	gm.set("v2", 0.5)
	h.commitNotify("v2")
	h.repo.mu.Lock()
	h.repo.failPush = errors.New("remote hung up")
	h.repo.mu.Unlock()
	h.run(30, time.Second)
	if got := rec.names(); got != "started,rollback" {
		t.Fatalf("events %q, want started,rollback", got)
	}
	ev, split, _ := rec.find("rollback")
	if ev.Commit != "" || !strings.Contains(ev.Reason, "not in Git yet") || split != "v1=100" {
		t.Errorf("rollback while Git is down: %+v with %q live", ev, split)
	}
	h.repo.mu.Lock()
	h.repo.failPush = nil
	h.repo.mu.Unlock()
	h.run(30, time.Second)
	if len(h.repo.written) != 1 {
		t.Fatalf("the revert was not written once Git came back: %+v", h.repo.written)
	}
	if got := rec.names(); got != "started,rollback" {
		t.Errorf("events %q: an outcome is announced once", got)
	}
}

func TestAbortedRolloutIsAnEventNotBlocksCanAskFor(t *testing.T) {
	h, rec, _ := notifyHarness(t)
	h.commitNotify("v1")
	h.run(1, time.Second)
	sha := h.commitNotify("v2")
	h.run(3, time.Second)
	h.commitNotify("v1") // a revert mid-canary
	h.run(3, time.Second)
	if got := rec.names(); got != "started,aborted" {
		t.Fatalf("events %q, want started,aborted", got)
	}
	ev, _, _ := rec.find("aborted")
	if ev.From != "v1" || ev.To != "v2" || ev.Commit != sha || !strings.Contains(ev.Reason, "serve is back to v1") {
		t.Errorf("aborted: %+v", ev)
	}
	for _, name := range spec.NotifyEvents {
		if name == "aborted" {
			t.Errorf("aborted is not an event of SPEC.md §9")
		}
	}
	if st := h.d.Status(); len(st.Events) != 2 || st.Events[0].Event != "aborted" {
		t.Errorf("the status page's events: %+v", st.Events)
	}
}

// TestNotifyRollThroughWithItsKindAndCommit: an outcome other than a
// rollback is announced under its own event name, with the commit that
// the reconciler wrote for it, once traffic is back on the version known
// good; the version rolled through to then starts its own rollout.
func TestNotifyRollThroughWithItsKindAndCommit(t *testing.T) {
	h, rec, gm := notifyHarness(t)
	through := func(serve string) string {
		src := strings.Replace(fmt.Sprintf(specTmpl, serve), `    interval = "5s"`,
			"    interval = \"5s\"\n    on_failure   = \"roll_through\"\n    roll_through = \"v3\"", 1)
		if !strings.Contains(src, "roll_through") {
			t.Fatal("the spec template changed: no interval line to add on_failure after")
		}
		return h.repo.commitRaw(src + notifyBlock)
	}
	through("v1")
	h.run(1, time.Second)
	gm.set("v2", 0.5)
	through("v2")
	h.run(30, time.Second)
	ev, split, ok := rec.find("roll_through")
	if !ok {
		t.Fatalf("events %q, want a roll_through", rec.names())
	}
	if len(h.repo.written) == 0 {
		t.Fatal("no outcome commit written")
	}
	h.repo.mu.Lock()
	written := h.repo.commits[len(h.repo.commits)-1]
	h.repo.mu.Unlock()
	if ev.From != "v2" || ev.To != "v3" || ev.Commit != written || !strings.Contains(ev.Reason, `check "errors" failed`) {
		t.Errorf("roll_through: %+v, want v2 → v3 with commit %s", ev, written)
	}
	if split != "v1=100" {
		t.Errorf("announced with %q live: traffic returns to v1 first", split)
	}
	if got := rec.names(); !strings.HasPrefix(got, "started,roll_through,started") {
		t.Errorf("events %q, want started, roll_through, then v3 started", got)
	}
}

// TestEveryOutcomeIsAnEventBlocksCanAskFor: each kind of outcome commit
// is announced under its own name, which a notify block may list.
func TestEveryOutcomeIsAnEventBlocksCanAskFor(t *testing.T) {
	for _, k := range []rollout.CommitKind{rollout.CommitRollback, rollout.CommitFallback, rollout.CommitRollThrough,
		rollout.CommitPromote, rollout.CommitConclude} {
		found := false
		for _, ev := range spec.NotifyEvents {
			found = found || ev == string(k)
		}
		if !found {
			t.Errorf("outcome %q is announced as an event that notify blocks cannot ask for (spec.NotifyEvents)", k)
		}
	}
}
