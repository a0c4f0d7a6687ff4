package reconcile

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// noteJudge is a Checker whose policy reads the verdict notes: it denies
// any head serving v2 unless the notes, as the repository has them now,
// hold a passing verdict. It records each head it judges, with the commit
// in force.
type noteJudge struct {
	repo   *fakeRepo
	passed map[string]bool // notes ref -> v2's verdict there
	calls  []string        // "head<-applied"
}

func (j *noteJudge) check(ctx context.Context, commit string, fsys fs.FS, base *spec.Tree, applied string) (*spec.Tree, []diag.Diagnostic) {
	j.calls = append(j.calls, commit+"<-"+applied)
	tree, diags := spec.Load(fsys, "rollouts")
	if diag.HasErrors(diags) || tree == nil {
		return tree, diags
	}
	notes, _ := j.repo.NotesHead(ctx)
	if tree.Models[0].Serve == "v2" && !j.passed[notes] {
		return tree, append(diags, diag.Diagnostic{Severity: diag.Error, Source: diag.SourcePolicy,
			File: "rollouts/fraud.hcl", Summary: "v2 failed its offline validation (notes " + notes + ")"})
	}
	return tree, diags
}

// newJudgedHarness is a harness whose daemon judges heads with j.
func newJudgedHarness(t *testing.T) (*harness, *noteJudge) {
	h := newHarness(t)
	j := &noteJudge{repo: h.repo, passed: map[string]bool{}}
	d, err := New(Config{PollInterval: time.Second}, Deps{
		Repo: h.repo, Check: j.check, Routers: h.target, Measurer: h.measure, Store: h.store, Clock: h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	return h, j
}

func TestRejectedHeadIsJudgedAgainWhenTheNotesChange(t *testing.T) {
	h, j := newJudgedHarness(t)
	good := h.repo.commit("v1")
	h.run(1, time.Second)
	h.repo.setNotes("notes-failed")
	bad := h.repo.commit("v2")
	h.run(3, time.Second)
	st := h.d.Status()
	if st.Head != bad || st.Applied != good || !strings.Contains(st.HeadError, "not applied") {
		t.Fatalf("want %s rejected with %s applied: %+v", bad, good, st)
	}
	if st.HeadNotes != "notes-failed" {
		t.Fatalf("status head_notes %q, want the notes the head was judged with", st.HeadNotes)
	}
	if got := h.target.weights(); got != "v1=100" {
		t.Fatalf("weights %q while the head is rejected, want v1=100", got)
	}

	// The validation is run again and fails again: judged again, still
	// rejected, with the new reasons; the rejection counts once.
	h.repo.setNotes("notes-failed-again")
	h.run(1, time.Second)
	st = h.d.Status()
	if st.Applied != good || len(st.HeadDiagnostics) != 1 || !strings.Contains(st.HeadDiagnostics[0].Summary, "notes-failed-again") {
		t.Fatalf("after the second failed verdict: applied %s, diagnostics %+v", st.Applied, st.HeadDiagnostics)
	}
	if n := rejectedHeads(t, h.d); n != 1 {
		t.Fatalf("switchyard_rejected_heads_total = %g, want 1 for one rejected commit", n)
	}

	// A passing verdict replaces it: the same head is applied, judged
	// against the same commit in force, and its rollout starts.
	j.passed["notes-passed"] = true
	h.repo.setNotes("notes-passed")
	h.run(1, time.Second)
	st = h.d.Status()
	if st.Applied != bad || st.HeadError != "" || len(st.HeadDiagnostics) != 0 || st.HeadNotes != "" {
		t.Fatalf("after the passing verdict: %+v", st)
	}
	if got := h.target.weights(); got != "v1=90,v2=10" {
		t.Fatalf("weights %q, want the canary's first step", got)
	}
	want := []string{good + "<-", bad + "<-" + good, bad + "<-" + good, bad + "<-" + good}
	if strings.Join(j.calls, " ") != strings.Join(want, " ") {
		t.Fatalf("checker calls (head<-applied):\n%v\nwant\n%v", j.calls, want)
	}

	// An applied head is never judged again, whatever the notes do.
	h.repo.setNotes("notes-later")
	h.run(60, time.Second)
	if len(j.calls) != len(want) {
		t.Fatalf("an applied head was judged again: %v", j.calls[len(want):])
	}
	if got := h.target.weights(); got != "v2=100" {
		t.Fatalf("weights %q after the canary, want v2=100", got)
	}
}

func TestRejectedHeadWithTheSameNotesIsNotJudgedAgain(t *testing.T) {
	h, j := newJudgedHarness(t)
	h.repo.commit("v1")
	h.run(1, time.Second)
	h.repo.setNotes("notes-failed")
	h.repo.commit("v2")
	h.run(1, time.Second)
	if len(j.calls) != 2 {
		t.Fatalf("checker calls %v, want the two heads", j.calls)
	}
	// Many fetches find the same head and the same notes: no policy runs.
	h.run(30, time.Second)
	h.d.Trigger()
	h.run(1, time.Second)
	if len(j.calls) != 2 {
		t.Fatalf("the rejected head was judged again with unchanged notes: %v", j.calls)
	}
	if st := h.d.Status(); st.HeadError == "" || st.HeadNotes != "notes-failed" {
		t.Fatalf("status no longer says the head is rejected: %+v", st)
	}
}

func TestRestartJudgesARejectedHeadWithTheNotesThen(t *testing.T) {
	h, j := newJudgedHarness(t)
	h.repo.commit("v1")
	h.run(1, time.Second)
	h.repo.setNotes("notes-failed")
	bad := h.repo.commit("v2")
	h.run(2, time.Second)
	if st := h.d.Status(); st.Applied == bad {
		t.Fatalf("the head was applied with a failed verdict: %+v", st)
	}
	// The passing verdict lands while the reconciler is down: nothing
	// remembered from before the restart keeps the head rejected.
	j.passed["notes-passed"] = true
	h.repo.setNotes("notes-passed")
	d, err := New(Config{PollInterval: time.Second}, Deps{
		Repo: h.repo, Check: j.check, Routers: h.target, Measurer: h.measure, Store: h.store, Clock: h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	h.run(1, time.Second)
	if st := h.d.Status(); st.Applied != bad || st.HeadError != "" {
		t.Fatalf("after the restart: %+v", st)
	}
}

// rejectedHeads is switchyard_rejected_heads_total as /metrics shows it.
func rejectedHeads(t *testing.T, d *Daemon) float64 {
	t.Helper()
	families, err := d.deps.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "switchyard_rejected_heads_total" && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no switchyard_rejected_heads_total on /metrics")
	return 0
}

// A reconciler restarted while its head is rejected takes up the commit
// that was in force: that commit keeps running (its traffic, its rollouts)
// and the head is judged against it, not as if nothing had run before.
func TestRestartWithARejectedHeadKeepsTheCommitInForce(t *testing.T) {
	h, j := newJudgedHarness(t)
	good := h.repo.commit("v1")
	h.run(1, time.Second)
	h.repo.setNotes("notes-failed")
	bad := h.repo.commit("v2")
	h.run(2, time.Second)
	for _, restart := range []string{"first", "second", "state saved before the commit in force was"} {
		if restart == "state saved before the commit in force was" {
			// Older state files: the commit the models were last stepped on.
			if err := h.store.Delete(appliedKey); err != nil {
				t.Fatal(err)
			}
		}
		d, err := New(Config{PollInterval: time.Second}, Deps{
			Repo: h.repo, Check: j.check, Routers: h.target, Measurer: h.measure, Store: h.store, Clock: h.clock,
		})
		if err != nil {
			t.Fatal(err)
		}
		h.d = d
		h.run(2, time.Second)
		st := h.d.Status()
		if st.Applied != good || st.Head != bad || !strings.Contains(st.HeadError, "not applied") {
			t.Fatalf("after the %s restart: want %s in force and %s rejected: %+v", restart, good, bad, st)
		}
		if len(st.Models) != 1 {
			t.Fatalf("after the %s restart the commit in force runs %d models, want 1", restart, len(st.Models))
		}
		if want := bad + "<-" + good; j.calls[len(j.calls)-1] != want {
			t.Fatalf("after the %s restart the head was judged as %s, want %s", restart, j.calls[len(j.calls)-1], want)
		}
	}
	// And when the verdict passes, the head is applied as usual.
	j.passed["notes-passed"] = true
	h.repo.setNotes("notes-passed")
	h.run(1, time.Second)
	if st := h.d.Status(); st.Applied != bad || st.HeadError != "" {
		t.Fatalf("after the passing verdict: %+v", st)
	}
}
