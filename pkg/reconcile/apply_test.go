package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// byName gives each router block the target of its name.
type byName map[string]Target

func (b byName) Target(ctx context.Context, r *spec.Router) (Target, error) {
	t, ok := b[r.Name]
	if !ok {
		return nil, fmt.Errorf("no target for router %q", r.Name)
	}
	return t, nil
}

// funcTarget is a router whose Apply and Resync are the test's functions.
type funcTarget struct {
	apply  func(tb traffic.Table) error
	resync func() error
}

func (f funcTarget) Apply(ctx context.Context, tb traffic.Table) error { return f.apply(tb) }
func (f funcTarget) Resync(ctx context.Context) error                  { return f.resync() }

// twoRouters is a tree with model spam on router "a" serving spam and
// model fraud on router "b" serving fraud.
func twoRouters(spam, fraud string) string {
	src := fmt.Sprintf(specTmpl, fraud)
	model := src[strings.Index(src, "model "):]
	b := strings.Replace(model, `router = "edge"`, `router = "b"`, 1)
	a := strings.NewReplacer(`"fraud"`, `"spam"`, `router = "edge"`, `router = "a"`, "/v1/fraud", "/v1/spam", `serve  = "`+fraud+`"`, `serve  = "`+spam+`"`).Replace(model)
	return `router "a" {
  type   = "builtin"
  listen = "127.0.0.1:18081"
}

router "b" {
  type   = "builtin"
  listen = "127.0.0.1:18082"
}

` + a + "\n" + b
}

// held is the guard of a wait that only a serial apply never ends: a
// passing run never comes near it.
const held = 30 * time.Second

// A router whose call hangs (a replica not answering, held for the
// replica timeout) does not delay another router's restore: router b
// gets its rollback while router a's call of the same pass is still held.
func TestARestoreDoesNotWaitForAnotherRoutersHungCall(t *testing.T) {
	entered := make(chan struct{}) // a's call started
	release := make(chan struct{}) // the test lets a's call return
	toB := make(chan string)       // what b was given: "resync" or the weights of a table
	hang := func() error { entered <- struct{}{}; <-release; return nil }
	a := funcTarget{apply: func(traffic.Table) error { return hang() }, resync: hang}
	b := funcTarget{
		apply:  func(tb traffic.Table) error { toB <- weightsOf(tb); return nil },
		resync: func() error { toB <- "resync"; return nil },
	}
	clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	repo := newFakeRepo()
	measure := &fakeMeasurer{errorRate: map[string]float64{"v3": 0.4}}
	d, err := New(Config{PollInterval: time.Second}, Deps{Repo: repo, Check: check, Routers: byName{"a": a, "b": b},
		Measurer: measure, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	// pass reconciles once, a's call held until b answered; it returns
	// what b was given.
	pass := func() string {
		t.Helper()
		clock.Advance(time.Second)
		done := make(chan error, 1)
		go func() { done <- d.Reconcile(context.Background()) }()
		<-entered
		var got string
		select {
		case got = <-toB:
		case <-time.After(held):
			t.Fatal("router b was given nothing while router a's call was held: the routers are applied one after another")
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("reconcile: %v", err)
		}
		release = make(chan struct{})
		return got
	}
	repo.commitRaw(twoRouters("v1", "v2"))
	if got := pass(); got != "v2=100" {
		t.Fatalf("first pass: b given %q, want v2=100", got)
	}
	repo.commitRaw(twoRouters("v1", "v3"))
	var seen []string
	for range 30 {
		got := pass()
		seen = append(seen, got)
		if got == "v2=100" {
			// The rollback: given to b while a's call was still held.
			t.Logf("b given: %v", seen)
			if !strings.Contains(strings.Join(seen, " "), "v3=") {
				t.Fatalf("b restored before its canary started: %v", seen)
			}
			return
		}
	}
	t.Fatalf("b never got the rollback to v2=100 while a's call was held: %v", seen)
}

// The pass's error names the routers in name order, whatever order they
// answer in: router b fails first, then router a.
func TestApplyErrorsKeepTheRoutersOrder(t *testing.T) {
	bFailed := make(chan struct{})
	a := funcTarget{apply: func(traffic.Table) error {
		select {
		case <-bFailed:
		case <-time.After(held):
			return errors.New("a gave up waiting for b")
		}
		return errors.New("a refused")
	}}
	b := funcTarget{apply: func(traffic.Table) error {
		defer close(bFailed)
		return errors.New("b refused")
	}}
	clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	repo := newFakeRepo()
	d, err := New(Config{PollInterval: time.Second}, Deps{Repo: repo, Check: check, Routers: byName{"a": a, "b": b},
		Measurer: &fakeMeasurer{errorRate: map[string]float64{}}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	repo.commitRaw(twoRouters("v1", "v2"))
	err = d.Reconcile(context.Background())
	want := "applying traffic to router \"a\": a refused\napplying traffic to router \"b\": b refused"
	if err == nil || err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	for _, m := range d.Status().Models {
		if !strings.Contains(m.Error, "has not acknowledged") {
			t.Errorf("model %s: error %q, want its router behind", m.Model, m.Error)
		}
	}
}
