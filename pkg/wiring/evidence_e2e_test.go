package wiring_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/reconcile"
)

const (
	holdout = "datasets/fraud-holdout.jsonl"
	oneLine = `{"input": {"amount": 10}, "expected": 0}` + "\n"
)

// validatedSpec is e.spec serving serve, where v2 declares an offline
// validation (so that the default policy validation_evidence applies).
func (e *e2e) validatedSpec(serve string) string {
	e.t.Helper()
	plain := fmt.Sprintf(`  version "v2" { url = %q }`, e.urls["v2"])
	validated := fmt.Sprintf(`  version "v2" {
    url = %q
    validation {
      dataset = %q
      metric  = "accuracy"
      min     = 0.9
    }
  }`, e.urls["v2"], holdout)
	src := e.spec(serve, "[10, 50]")
	if !strings.Contains(src, plain) {
		e.t.Fatalf("the e2e spec has no line %q", plain)
	}
	return strings.Replace(src, plain, validated, 1)
}

// v2Verdict is an offline validation verdict on fraud/production/v2
// as a JSON note line (SPEC.md §6), decided at at.
func v2Verdict(passed bool, value float64, at string) string {
	return fmt.Sprintf(`{"kind":"validation","model":"fraud","stage":"production","payload":`+
		`{"version":"v2","passed":%t,"metric":"accuracy","value":%g,"threshold":0.9,"bound":"min","at":%q}}`, passed, value, at)
}

// mergeValidated merges a pull request (branch) that promotes v2 with its
// validation against dataset, notes verdict on the pull request's head
// commit under refs/notes/switchyard, sends the push webhook, and returns
// the merge commit.
func (e *e2e) mergeValidated(branch, dataset, verdict string) string {
	e.t.Helper()
	merge := e.git.MergeAs(e2eRepo, branch, "Merge pull request from "+branch, map[string]string{
		"rollouts/fraud.hcl": e.validatedSpec("v2"),
		holdout:              dataset,
	})
	prHead := strings.TrimSpace(e.git.Git(e2eRepo, "rev-parse", merge+"^2"))
	e.git.Git(e2eRepo, "notes", "--ref", "switchyard", "append", "-m", verdict, prHead)
	if code := e.webhook(e.secret); code != http.StatusOK && code != http.StatusAccepted && code != http.StatusNoContent {
		e.t.Fatalf("webhook answered %d", code)
	}
	return merge
}

// apiStatus is GET /api/status on the reconciler's HTTP surface.
func (e *e2e) apiStatus() reconcile.Status {
	e.t.Helper()
	resp, err := http.Get("http://" + e.run.Addr + "/api/status")
	if err != nil {
		e.t.Fatalf("GET /api/status: %v", err)
	}
	defer resp.Body.Close()
	var st reconcile.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		e.t.Fatalf("GET /api/status: %v", err)
	}
	return st
}

func TestE2EMergedVersionThatFailedValidationIsNotApplied(t *testing.T) {
	e := newE2E(t)
	good := e.run.Daemon.Status().Applied
	bad := e.mergeValidated("promote-v2", oneLine, v2Verdict(false, 0.71, "2026-11-26T10:00:00Z"))
	e.waitFor("the head to be rejected", func() bool {
		st := e.run.Daemon.Status()
		return st.Head == bad && st.HeadError != ""
	})
	st := e.apiStatus()
	if st.Head != bad || st.Applied != good || st.HeadError == "" {
		t.Fatalf("status: head %s (want %s), applied %s (want %s), head error %q", st.Head, bad, st.Applied, good, st.HeadError)
	}
	var denial string
	for _, d := range st.HeadDiagnostics {
		if d.Source == "policy" && d.Severity == "error" && d.Rule == "validation_evidence" && d.File == "rollouts/fraud.hcl" && d.Line > 0 {
			denial = d.Summary
		}
	}
	if !strings.Contains(denial, "v2 failed its offline validation") {
		t.Fatalf("status does not show the denial for the failed validation: %+v", st.HeadDiagnostics)
	}
	e.waitServing("v1")

	// v2 is fixed and validated again (on a larger dataset): a later pull
	// request carries the passing verdict, and the head, which brings in
	// the failed one too, is applied.
	fixed := e.mergeValidated("revalidate-v2", oneLine+`{"input": {"amount": 9000}, "expected": 1}`+"\n", v2Verdict(true, 0.95, "2026-11-26T11:00:00Z"))
	e.waitFor("the fixed head to be applied", func() bool { return e.run.Daemon.Status().Applied == fixed })
	e.waitServing("v2")
}

func TestE2EMergedVersionThatPassedValidationIsApplied(t *testing.T) {
	e := newE2E(t)
	merge := e.mergeValidated("promote-v2", oneLine, v2Verdict(true, 0.95, "2026-11-26T10:00:00Z"))
	e.waitFor("the merge to be applied", func() bool { return e.run.Daemon.Status().Applied == merge })
	if st := e.apiStatus(); st.HeadError != "" {
		t.Fatalf("head error %q: %+v", st.HeadError, st.HeadDiagnostics)
	}
	e.waitServing("v2")
}

func TestE2EFailedValidationNotedOnThePushedCommitItself(t *testing.T) {
	e := newE2E(t)
	good := e.run.Daemon.Status().Applied
	// A fast-forward (or squash) merge: the verdict judges the very commit
	// that lands on the branch.
	bad := e.git.CommitAs(e2eRepo, "Promote fraud v2 (#9)", map[string]string{
		"rollouts/fraud.hcl": e.validatedSpec("v2"),
		holdout:              oneLine,
	})
	e.git.Git(e2eRepo, "notes", "--ref", "switchyard", "append", "-m", v2Verdict(false, 0.5, "2026-11-26T10:00:00Z"), bad)
	if code := e.webhook(e.secret); code != http.StatusOK && code != http.StatusAccepted && code != http.StatusNoContent {
		t.Fatalf("webhook answered %d", code)
	}
	e.waitFor("the head to be rejected", func() bool {
		st := e.run.Daemon.Status()
		return st.Head == bad && st.HeadError != ""
	})
	if st := e.run.Daemon.Status(); st.Applied != good {
		t.Fatalf("applied %s, want %s still", st.Applied, good)
	}
	e.waitServing("v1")
}

func TestE2ERejectedHeadIsAppliedWhenAPassingVerdictIsNotedLater(t *testing.T) {
	// No push webhook comes for a notes ref (GitHub sends them for branches
	// and tags): the reconciler's poll finds the new note.
	e := newE2EPolling(t, 200*time.Millisecond)
	good := e.run.Daemon.Status().Applied
	// The merge and its failed verdict land together: with the server down
	// meanwhile, no poll can see the merge before its note.
	e.git.Stop()
	bad := e.mergeValidated("promote-v2", oneLine, v2Verdict(false, 0.71, "2026-11-26T10:00:00Z"))
	e.git.Start()
	e.waitFor("the head to be rejected", func() bool {
		st := e.run.Daemon.Status()
		return st.Head == bad && st.HeadError != ""
	})
	st := e.apiStatus()
	if st.Applied != good || !hasDenial(st, "v2 failed its offline validation") {
		t.Fatalf("status: applied %s (want %s), diagnostics %+v", st.Applied, good, st.HeadDiagnostics)
	}
	if notes := strings.TrimSpace(e.git.Git(e2eRepo, "rev-parse", "refs/notes/switchyard")); st.HeadNotes != notes {
		t.Fatalf("status head_notes %q, want the remote's notes %s", st.HeadNotes, notes)
	}
	e.waitServing("v1")

	// Validation is run again on the same commit and passes: its verdict
	// is appended to that commit's note, and only the notes ref is pushed.
	prHead := strings.TrimSpace(e.git.Git(e2eRepo, "rev-parse", bad+"^2"))
	e.git.AppendNote(e2eRepo, prHead, v2Verdict(true, 0.95, "2026-11-26T11:00:00Z"))
	if head := e.git.Head(e2eRepo); head != bad {
		t.Fatalf("main moved to %s; the test wants the notes ref alone to change", head)
	}
	e.waitFor("the same head to be applied", func() bool { return e.run.Daemon.Status().Applied == bad })
	if st := e.apiStatus(); st.Head != bad || st.HeadError != "" || len(st.HeadDiagnostics) != 0 || st.HeadNotes != "" {
		t.Fatalf("after the passing verdict: head %s (want %s), head error %q, diagnostics %+v, head_notes %q",
			st.Head, bad, st.HeadError, st.HeadDiagnostics, st.HeadNotes)
	}
	e.waitServing("v2")
}

// hasDenial says whether status shows a validation_evidence denial at a
// line of rollouts/fraud.hcl whose summary contains msg.
func hasDenial(st reconcile.Status, msg string) bool {
	for _, d := range st.HeadDiagnostics {
		if d.Source == "policy" && d.Severity == "error" && d.Rule == "validation_evidence" &&
			d.File == "rollouts/fraud.hcl" && d.Line > 0 && strings.Contains(d.Summary, msg) {
			return true
		}
	}
	return false
}
