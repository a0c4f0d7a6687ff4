package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// flakyTarget is a router that, while failing, acknowledges nothing (a
// fleet replica down); it remembers every table it was sent.
type flakyTarget struct {
	fakeTarget
	mu      sync.Mutex
	failing bool
	sent    []string // the fraud route's weights of every table sent
}

func (f *flakyTarget) Apply(ctx context.Context, tb traffic.Table) error {
	f.mu.Lock()
	failing := f.failing
	f.sent = append(f.sent, weightsOf(tb))
	f.mu.Unlock()
	if failing {
		return errors.New(`router "edge": 1 of 2 replicas have not acknowledged table generation 2`)
	}
	return f.fakeTarget.Apply(ctx, tb)
}

func (f *flakyTarget) Target(ctx context.Context, r *spec.Router) (Target, error) { return f, nil }

func (f *flakyTarget) fail(on bool) { f.mu.Lock(); f.failing = on; f.mu.Unlock() }

// Replicas reports the second replica behind while failing.
func (f *flakyTarget) Replicas() []traffic.ReplicaStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	reps := []traffic.ReplicaStatus{{Admin: "http://a:9901", Generation: 2, Want: 2, InSync: true}, {Admin: "http://b:9901", Generation: 2, Want: 2, InSync: true}}
	if f.failing {
		reps[1] = traffic.ReplicaStatus{Admin: "http://b:9901", Generation: 1, Want: 2, LastError: "connection refused"}
	}
	return reps
}

func weightsOf(tb traffic.Table) string {
	if len(tb.Routes) == 0 {
		return ""
	}
	var parts []string
	for _, w := range tb.Routes[0].Weights {
		if w.Percent > 0 {
			parts = append(parts, fmt.Sprintf("%s=%g", w.Version, w.Percent))
		}
	}
	return strings.Join(parts, ",")
}

// A step whose bake has no checks advances only once its table was
// acknowledged: while the router refuses it, the rollout stays at the
// step, and the bake counts from when the table is in force.
func TestStepWithoutChecksWaitsForItsTableToBeAcknowledged(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	repo := newFakeRepo()
	target := &flakyTarget{}
	d, err := New(Config{PollInterval: time.Second}, Deps{Repo: repo, Check: check, Routers: target, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	noChecks := func(serve string) string {
		src := fmt.Sprintf(specTmpl, serve)
		return src[:strings.Index(src, "  check \"errors\"")] + "}\n"
	}
	pass := func(n int) {
		for range n {
			clock.Advance(time.Second)
			_ = d.Reconcile(context.Background()) // a refused table is an error, retried
		}
	}
	repo.commitRaw(noChecks("v1"))
	pass(1)
	repo.commitRaw(noChecks("v2"))
	target.fail(true)
	pass(30) // three times the bake
	target.mu.Lock()
	sent := append([]string(nil), target.sent...)
	target.mu.Unlock()
	for i, w := range sent[1:] {
		if w != "v1=90,v2=10" {
			t.Fatalf("table %d sent while the first step's table was never acknowledged holds %q, want v1=90,v2=10 (all sent: %v)", i+1, w, sent)
		}
	}
	target.fail(false)
	pass(1) // acknowledged: the 10s bake starts
	pass(9)
	if got := target.weights(); got != "v1=90,v2=10" {
		t.Fatalf("9s after the table was acknowledged the router holds %q, want v1=90,v2=10 (the bake is 10s)", got)
	}
	pass(1)
	if got := target.weights(); got != "v1=50,v2=50" {
		t.Fatalf("once the bake ran on the acknowledged table the router holds %q, want v1=50,v2=50", got)
	}
	pass(20)
	if got := target.weights(); got != "v2=100" {
		t.Fatalf("the rollout did not complete: the router holds %q", got)
	}
}

// A router replica that stays down holds a rollout without checks at its
// step for as long as it is down; after five intervals (at least a
// minute) the model's phase is paused, its message and one "paused"
// notification say why, and it still never advances. Once the table is
// acknowledged the rollout goes on.
func TestLongHoldForAReplicaIsAnnouncedOnceAndNeverAdvances(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	repo := newFakeRepo()
	target := &flakyTarget{}
	rec := &recorder{target: &target.fakeTarget}
	d, err := New(Config{PollInterval: time.Second}, Deps{Repo: repo, Check: check, Routers: target, Clock: clock, Notifier: rec})
	if err != nil {
		t.Fatal(err)
	}
	noChecks := func(serve string) string {
		src := fmt.Sprintf(specTmpl, serve)
		return src[:strings.Index(src, "  check \"errors\"")] + "}\n" + notifyBlock
	}
	pass := func(n int) {
		for range n {
			clock.Advance(time.Second)
			_ = d.Reconcile(context.Background())
		}
	}
	repo.commitRaw(noChecks("v1"))
	pass(1)
	repo.commitRaw(noChecks("v2"))
	target.fail(true)
	pass(50) // under a minute (interval 5s: five intervals are 25s, the floor is 1m)
	// The status shows the model as the router last had it, and where
	// the engine is in its error.
	if ms := d.Status().Models[0]; !strings.Contains(ms.Error, "the engine is at progressing step 1 of 3") || rec.names() != "started" {
		t.Fatalf("after 50s held: error %q, events %q; want the engine progressing at step 1, started (not yet loud)", ms.Error, rec.names())
	}
	// The gauge says how long the step has been held, although the
	// status shows the model as its router last took it.
	heldFor := func() float64 {
		ms := d.Status().Models[0]
		return testutil.ToFloat64(d.deps.Metrics.heldFor.WithLabelValues(ms.Model, ms.Stage))
	}
	if got := heldFor(); got < 45 || got > 50 {
		t.Errorf("switchyard_rollout_unacknowledged_seconds after 50s held = %v, want about 50", got)
	}
	pass(10 * 60)
	if got := heldFor(); got < 645 || got > 650 {
		t.Errorf("switchyard_rollout_unacknowledged_seconds after 650s held = %v, want about 650", got)
	}
	ms := d.Status().Models[0]
	if !strings.Contains(ms.Error, "the engine is at paused step 1 of 3") || !strings.Contains(ms.Error, "has not acknowledged this traffic everywhere for 1m") ||
		!strings.Contains(ms.Error, "behind: http://b:9901") {
		t.Fatalf("after 11 minutes held: error %q, want the engine paused at step 1 naming the replica behind", ms.Error)
	}
	if got := rec.names(); got != "started,paused" {
		t.Fatalf("events %q, want started,paused (once)", got)
	}
	ev, _, _ := rec.find("paused")
	if ev.From != "v1" || ev.To != "v2" || !strings.Contains(ev.Reason, "behind: http://b:9901 at generation 1 of 2: connection refused") {
		t.Errorf("paused: %+v, want the reason naming the replicas", ev)
	}
	target.mu.Lock()
	for i, w := range target.sent[1:] {
		if w != "v1=90,v2=10" {
			t.Fatalf("table %d sent during the hold holds %q, want the first step's", i+1, w)
		}
	}
	target.mu.Unlock()
	target.fail(false)
	pass(40)
	if got := target.weights(); got != "v2=100" {
		t.Fatalf("once acknowledged the rollout did not complete: the router holds %q", got)
	}
	if got := heldFor(); got != 0 {
		t.Errorf("switchyard_rollout_unacknowledged_seconds once acknowledged = %v, want 0", got)
	}
	if got := rec.names(); got != "started,paused,succeeded" {
		t.Errorf("events %q, want started,paused,succeeded", got)
	}
}
