package reconcile

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// ownRepo knows which commits carry a Switchyard-Action trailer.
type ownRepo struct {
	*fakeRepo
	actions map[string]string
}

func (r *ownRepo) CommitAction(ctx context.Context, commit string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.actions[commit], nil
}

func TestOwnCommitRejectedIsLoud(t *testing.T) {
	repo := &ownRepo{fakeRepo: newFakeRepo(), actions: map[string]string{}}
	var logs bytes.Buffer
	clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	metrics := NewMetrics(nil)
	target := &fakeTarget{}
	rec := &recorder{target: target}
	d, err := New(Config{PollInterval: time.Second}, Deps{
		Repo: repo, Check: check, Routers: target, Clock: clock, Metrics: metrics, Notifier: rec,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	pass := func() {
		clock.Advance(2 * time.Second)
		if err := d.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	repo.commit("v1")
	pass()
	// A person's invalid head: rejected, not the reconciler's business.
	repo.commit("nope")
	pass()
	if st := d.Status(); st.HeadError == "" || st.OwnCommitRejected != nil {
		t.Fatalf("a person's bad head: head error %q, own %+v", st.HeadError, st.OwnCommitRejected)
	}
	// Its own commit, invalid: said in the status, the log and the metric.
	own := repo.commit("v9")
	repo.mu.Lock()
	repo.actions[own] = "roll_through"
	repo.mu.Unlock()
	pass()
	pass()
	st := d.Status()
	if o := st.OwnCommitRejected; o == nil || o.Commit != own || o.Action != "roll_through" || !strings.Contains(o.Reason, "rollouts/fraud.hcl:") {
		t.Fatalf("own_commit_rejected = %+v", st.OwnCommitRejected)
	}
	if n := counter(t, metrics, "switchyard_own_commit_rejected_total"); n != 1 {
		t.Fatalf("switchyard_own_commit_rejected_total = %g, want 1", n)
	}
	if !strings.Contains(logs.String(), "level=ERROR msg=\"the reconciler's own outcome commit is rejected") {
		t.Fatalf("no error log:\n%s", logs.String())
	}
	var notes []string
	rec.mu.Lock()
	for _, ev := range rec.events {
		if ev.Event == "rejected_head" {
			notes = append(notes, ev.Commit+" "+ev.Reason)
		}
	}
	rec.mu.Unlock()
	if len(notes) != 2 || strings.Contains(notes[0], "reconciler") || !strings.HasPrefix(notes[1], own+" this is the reconciler's own roll_through commit (a bug") {
		t.Fatalf("rejected_head notifications: %q", notes)
	}
	// A valid head clears it.
	repo.commit("v1")
	pass()
	if st := d.Status(); st.OwnCommitRejected != nil {
		t.Fatalf("still shown after a valid head: %+v", st.OwnCommitRejected)
	}
}

// counter reads a counter from the metrics' registry, as a scrape would.
func counter(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
