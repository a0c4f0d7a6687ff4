package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/notify"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// gatedTarget is a router whose Apply first calls gate with the table:
// the test decides whether it blocks, fails or takes it.
type gatedTarget struct {
	fakeTarget
	gate func(tb traffic.Table) error
}

func (g *gatedTarget) Apply(ctx context.Context, tb traffic.Table) error {
	if err := g.gate(tb); err != nil {
		return err
	}
	return g.fakeTarget.Apply(ctx, tb)
}

func (g *gatedTarget) Target(ctx context.Context, r *spec.Router) (Target, error) { return g, nil }

// gatedDaemon is a daemon whose router applies tables through gate, its
// repository, and pass, which advances the clock a second and reconciles.
func gatedDaemon(t *testing.T, gate func(tb traffic.Table) error) (*Daemon, *fakeRepo, func() error) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	repo := newFakeRepo()
	d, err := New(Config{PollInterval: time.Second}, Deps{Repo: repo, Check: check, Routers: &gatedTarget{gate: gate},
		Measurer: &fakeMeasurer{errorRate: map[string]float64{}}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return d, repo, func() error { clock.Advance(time.Second); return d.Reconcile(context.Background()) }
}

// shownAs is the fraud model's phase, step and split as the status shows
// them, and its error.
func shownAs(t *testing.T, d *Daemon) (string, string) {
	t.Helper()
	st := d.Status()
	if len(st.Models) != 1 {
		t.Fatalf("status has %d models, want 1: %+v", len(st.Models), st)
	}
	m := st.Models[0]
	var parts []string
	for _, w := range m.Weights {
		if w.Percent > 0 {
			parts = append(parts, fmt.Sprintf("%s=%g", w.Version, w.Percent))
		}
	}
	return m.Phase + " " + strings.Join(parts, ","), m.Error
}

// While the router refuses the table of a new step, the status keeps
// showing the step the router has, and says why; once the router takes
// the table, the status shows the new step.
func TestStatusNeverShowsAStepTheRouterRefused(t *testing.T) {
	refuse := false
	var held string // the fraud route's weights the router holds
	d, repo, pass := gatedDaemon(t, func(tb traffic.Table) error {
		if refuse {
			return errors.New("reload failed")
		}
		held = weightsOf(tb)
		return nil
	})

	// Refused from the very first table: nothing is in force, no phase.
	refuse = true
	v1 := repo.commit("v1")
	if err := pass(); err == nil {
		t.Fatal("a refused table is not an error of the pass")
	}
	if got, why := shownAs(t, d); got != " " || !strings.Contains(why, `router "edge" has not acknowledged`) || !strings.Contains(why, "idle (v1 100%)") {
		t.Fatalf("before the router took any table the status shows %q (error %q), want no phase, no split, and why", got, why)
	}
	refuse = false
	if err := pass(); err != nil {
		t.Fatal(err)
	}
	if got, why := shownAs(t, d); got != "idle v1=100" || why != "" {
		t.Fatalf("the status shows %q (error %q), want idle v1=100", got, why)
	}

	refuse = true
	v2 := repo.commit("v2")
	for range 3 {
		if err := pass(); err == nil {
			t.Fatal("a refused table is not an error of the pass")
		}
		got, why := shownAs(t, d)
		if got != "idle v1=100" {
			t.Fatalf("the router refused the canary's first table, yet the status shows %q", got)
		}
		if !strings.Contains(why, "progressing step 1 of 3 (v1 90%, v2 10%)") {
			t.Fatalf("the status does not say where the engine is: %q", why)
		}
	}
	if st := d.Status(); st.Head != v2 || st.Applied != v2 {
		t.Fatalf("head %s applied %s, want both %s (the commit is being carried out; v1 was %s)", st.Head, st.Applied, v2, v1)
	}
	if held != "v1=100" {
		t.Fatalf("the router holds %q", held)
	}

	refuse = false
	if err := pass(); err != nil {
		t.Fatal(err)
	}
	if got, why := shownAs(t, d); got != "progressing v1=90,v2=10" || why != "" {
		t.Fatalf("once the router took the table the status shows %q (error %q), want progressing v1=90,v2=10", got, why)
	}
}

// A pass whose Apply has not returned has published nothing yet: a
// reader sees the previous pass's status, never the engine's next step
// before the router has its table (CI once sent a preview request the
// moment the status said "preview", and the router answered with v1).
func TestStatusWaitsForThePassToApply(t *testing.T) {
	entered := make(chan traffic.Table)
	release := make(chan struct{})
	block := false
	d, repo, pass := gatedDaemon(t, func(tb traffic.Table) error {
		if block {
			entered <- tb
			<-release
		}
		return nil
	})
	repo.commit("v1")
	if err := pass(); err != nil {
		t.Fatal(err)
	}

	block = true
	repo.commit("v2")
	done := make(chan error)
	go func() { done <- pass() }()
	tb := <-entered // the pass stepped the engine and is applying its table
	if w := weightsOf(tb); w != "v1=90,v2=10" {
		t.Fatalf("the pass applies %q, want the canary's first step v1=90,v2=10", w)
	}
	if got, _ := shownAs(t, d); got != "idle v1=100" {
		t.Fatalf("while the table is being applied the status shows %q, want idle v1=100", got)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, _ := shownAs(t, d); got != "progressing v1=90,v2=10" {
		t.Fatalf("after the pass the status shows %q, want progressing v1=90,v2=10", got)
	}
}

// Trigger makes the next pass fetch before the poll interval is up, from
// any goroutine, without waiting for the pass.
func TestTriggerFetchesOnTheNextPass(t *testing.T) {
	h := newHarness(t)
	h.repo.commit("v1")
	h.run(1, time.Second)
	v2 := h.repo.commit("v2")
	h.run(1, 0) // within the poll interval: not fetched
	if st := h.d.Status(); st.Head == v2 {
		t.Fatalf("fetched within the poll interval: head %s", st.Head)
	}
	h.d.Trigger()
	h.run(1, 0)
	if st := h.d.Status(); st.Head != v2 || st.Applied != v2 {
		t.Fatalf("after Trigger: head %s applied %s, want %s", st.Head, st.Applied, v2)
	}
}

// Readers on other goroutines share nothing the pass changes: under the
// race detector, status readers that encode every field and append to
// their copy run beside passes that step a canary, fail it, retry its
// commit and keep history.
func TestStatusReadersShareNothingWithThePass(t *testing.T) {
	h := newHarness(t)
	h.repo.commit("v1")
	h.run(1, time.Second)
	h.measure.set("v1", 0.001)
	h.measure.set("v3", 0.5)
	h.repo.mu.Lock()
	h.repo.failPush = errors.New("remote down")
	h.repo.mu.Unlock()
	h.repo.commit("v3")

	stop := make(chan struct{})
	done := make(chan struct{})
	// read[i] holds a token once reader i read a status since the last
	// time it was taken.
	read := [2]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)}
	var failed atomic.Bool // report one failure, not one per read
	fail := func(format string, args ...any) {
		if !failed.Swap(true) {
			t.Errorf(format, args...)
		}
	}
	for i := range read {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := h.d.Status()
				if _, err := json.Marshal(s); err != nil {
					fail("encoding the status: %v", err)
				}
				for _, m := range s.Models {
					if slices.ContainsFunc(m.Weights, func(w traffic.Weight) bool { return w.Version == "mine" }) {
						fail("a reader's append to its copy reached the status others read: %+v", m.Weights)
					}
				}
				s.Models = append(s.Models, ModelStatus{Model: "mine"})
				s.Events = append(s.Events, notify.Event{Event: "mine"})
				if len(s.Models) > 1 {
					s.Models[0].Weights = append(s.Models[0].Weights, traffic.Weight{Version: "mine"})
				}
				select {
				case read[i] <- struct{}{}:
				default:
				}
			}
		}()
	}
	for range 40 {
		// Each reader reads between any two passes, and goes on reading
		// while the next one runs.
		<-read[0]
		<-read[1]
		h.clock.Advance(time.Second)
		_ = h.d.Reconcile(context.Background()) // the push fails: an error, retried
	}
	close(stop)
	<-done
	<-done
	st := h.d.Status()
	if len(st.Models) != 1 || st.Models[0].Model != "fraud" || len(st.PendingCommits) != 1 || len(st.Events) == 0 {
		t.Fatalf("a reader's appends reached the daemon, or the rollback did not happen: %+v", st)
	}
	for _, ev := range st.Events {
		if ev.Event == "mine" {
			t.Fatalf("a reader's event reached the daemon: %+v", st.Events)
		}
	}
}

// Each model shows what its own router holds: one router refusing its
// table freezes only the models it routes.
func TestStatusFreezesOnlyTheModelsOfTheRouterBehind(t *testing.T) {
	refuseSpam := false
	d, repo, pass := gatedDaemon(t, func(tb traffic.Table) error {
		for _, r := range tb.Routes {
			if r.Model == "spam" && refuseSpam {
				return errors.New("reload failed")
			}
		}
		return nil
	})
	two := func(serve string) string {
		src := fmt.Sprintf(specTmpl, serve)
		spam := src[strings.Index(src, "model "):]
		spam = strings.NewReplacer(`"fraud"`, `"spam"`, `"edge"`, `"edge2"`, "/v1/fraud", "/v1/spam").Replace(spam)
		return src + "\n" + `router "edge2" {
  type   = "builtin"
  listen = "127.0.0.1:18081"
}
` + spam
	}
	repo.commitRaw(two("v1"))
	if err := pass(); err != nil {
		t.Fatal(err)
	}
	repo.commitRaw(two("v2"))
	refuseSpam = true
	for range 2 {
		if err := pass(); err == nil {
			t.Fatal("a refused table is not an error of the pass")
		}
	}
	got := map[string]string{}
	for _, m := range d.Status().Models {
		got[m.Model] = m.Phase
		if m.Model == "spam" && !strings.Contains(m.Error, `router "edge2" has not acknowledged`) {
			t.Errorf("spam's error %q does not say its router is behind", m.Error)
		}
		if m.Model == "fraud" && m.Error != "" {
			t.Errorf("fraud's router took its table, yet its error is %q", m.Error)
		}
	}
	if got["fraud"] != "progressing" || got["spam"] != "idle" {
		t.Fatalf("phases %v, want fraud progressing (its router took the table) and spam idle (its router refused it)", got)
	}
}
