package admission_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/admission"
	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/gitops"
	"github.com/switchyard-dev/switchyard/pkg/notes"
	"github.com/switchyard-dev/switchyard/policies"
)

// notedRepo is a repository where the commits of the history of commit
// "head" carry notes.
type notedRepo struct {
	notes []notes.Noted
	err   error
	asked []string // the head of each HistoryNotes call
	// own and why are RecogniseOutcome's answer for commit "head".
	own    *gitops.OwnOutcome
	why    string
	ownErr error
}

func (r *notedRepo) RecogniseOutcome(_ context.Context, rev string) (*gitops.OwnOutcome, string, error) {
	if rev != "head" {
		return nil, "", nil
	}
	return r.own, r.why, r.ownErr
}

func (r *notedRepo) CommitInfo(rev string) (gitops.Commit, error) {
	return gitops.Commit{SHA: rev, Author: "Dev <dev@example.com>", Message: "Merge pull request #7\n"}, nil
}

func (r *notedRepo) HistoryNotes(_ context.Context, head string, _ int) ([]notes.Noted, error) {
	r.asked = append(r.asked, head)
	if head != "head" {
		return nil, r.err
	}
	return r.notes, r.err
}

// noted is a commit with notes, committed at minute min of the day.
func noted(sha string, min int, lines ...string) notes.Noted {
	c := notes.Noted{SHA: sha, Committed: time.Date(2026, 11, 26, 10, min, 0, 0, time.UTC)}
	for _, n := range lines {
		c.Notes = append(c.Notes, json.RawMessage(n))
	}
	return c
}

func validationNote(stage, version string, passed bool) string {
	return fmt.Sprintf(`{"kind":"validation","model":"fraud","stage":%q,"payload":{"version":%q,"passed":%t,"metric":"accuracy","value":0.8}}`, stage, version, passed)
}

type fixedClock struct{}

func (fixedClock) Now() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }

// checkSpec serves serve; v2 declares an offline validation.
func checkSpec(serve string) string {
	return fmt.Sprintf(`router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:18080"
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = %q

  version "v1" { url = "http://127.0.0.1:19101" }
  version "v2" {
    url = "http://127.0.0.1:19102"
    validation {
      dataset = "datasets/fraud.jsonl"
      metric  = "accuracy"
      min     = 0.9
    }
  }
  version "v3" { url = "http://127.0.0.1:19103" }

  rollout {
    strategy = "canary"
    steps    = [10, 50]
  }

  check "errors" {
    metric = "error_rate"
    max    = 0.05
  }
}
`, serve)
}

// defaultPolicies are the default policies, by file name, without their tests.
func defaultPolicies(t *testing.T) map[string]string {
	t.Helper()
	entries, err := fs.ReadDir(policies.Files, ".")
	if err != nil {
		t.Fatal(err)
	}
	pols := map[string]string{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), "_test.rego") && strings.HasSuffix(e.Name(), ".rego") {
			b, _ := policies.Files.ReadFile(e.Name())
			pols[e.Name()] = string(b)
		}
	}
	return pols
}

// checkTree is a commit's tree serving serve, with the default policies
// or the given ones.
func checkTree(t *testing.T, serve string, pols map[string]string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{
		"rollouts/fraud.hcl":   {Data: []byte(checkSpec(serve))},
		"datasets/fraud.jsonl": {Data: []byte(`{"input": {}, "expected": 1}` + "\n")},
	}
	if pols == nil {
		pols = defaultPolicies(t)
	}
	for name, src := range pols {
		fsys["policies/"+name] = &fstest.MapFile{Data: []byte(src)}
	}
	return fsys
}

// judge applies the commit in force (serving v1), then judges a head
// serving serve with the notes of repo.
func judge(t *testing.T, repo admission.CommitReader, serve string, pols map[string]string) []diag.Diagnostic {
	t.Helper()
	check := admission.Checker("rollouts", "policies", repo, fixedClock{})
	ctx := context.Background()
	base, diags := check(ctx, "base", checkTree(t, "v1", pols), nil, "")
	if diag.HasErrors(diags) {
		t.Fatalf("the commit in force is rejected: %+v", diags)
	}
	_, diags = check(ctx, "head", checkTree(t, serve, pols), base, "base")
	return diags
}

func errorsOf(ds []diag.Diagnostic) []string {
	var out []string
	for _, d := range ds {
		if d.Severity == diag.Error {
			out = append(out, d.Summary)
		}
	}
	return out
}

func TestCheckerDeniesAVersionWhoseValidationFailed(t *testing.T) {
	cases := []struct {
		name  string
		notes []notes.Noted
		deny  bool
	}{
		{"no notes: a merged commit needs no review-time evidence", nil, false},
		{"failed on the pull request's head", []notes.Noted{noted("prhead", 1, validationNote("production", "v2", false))}, true},
		{"failed on the merge commit", []notes.Noted{noted("prhead", 1), noted("head", 2, validationNote("production", "v2", false))}, true},
		{"failed in staging counts for production", []notes.Noted{noted("prhead", 1, validationNote("staging", "v2", false))}, true},
		{"passed", []notes.Noted{noted("prhead", 1, validationNote("production", "v2", true))}, false},
		{"failed, then passed when validated again", []notes.Noted{
			noted("first", 1, validationNote("production", "v2", false)),
			noted("prhead", 2, validationNote("production", "v2", true)),
		}, false},
		{"another version failed", []notes.Noted{noted("prhead", 1, validationNote("production", "v3", false))}, false},
		{"another model failed", []notes.Noted{noted("prhead", 1, strings.Replace(validationNote("production", "v2", false), `"fraud"`, `"churn"`, 1))}, false},
		{"not verdicts", []notes.Noted{noted("prhead", 1, `{"kind":"validation","passed":false}`, `not json`)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := &notedRepo{notes: c.notes}
			diags := judge(t, repo, "v2", nil)
			var denial *diag.Diagnostic
			for i, d := range diags {
				if d.Severity == diag.Error && d.Rule == "validation_evidence" {
					denial = &diags[i]
				}
			}
			if got := denial != nil; got != c.deny {
				t.Fatalf("denied = %v, want %v; diagnostics %+v", got, c.deny, diags)
			}
			if denial != nil && (!strings.Contains(denial.Summary+denial.Detail, "v2 failed its offline validation") ||
				denial.File != "rollouts/fraud.hcl" || denial.Line == 0) {
				t.Fatalf("the denial does not say why, where: %+v", *denial)
			}
			if !c.deny && len(errorsOf(diags)) > 0 {
				t.Fatalf("errors: %v", errorsOf(diags))
			}
			if want := []string{"base", "head"}; strings.Join(repo.asked, " ") != strings.Join(want, " ") {
				t.Fatalf("notes read for %v, want %v", repo.asked, want)
			}
		})
	}
}

// echoEvidence denies with every evidence entry the policies see.
var echoEvidence = map[string]string{"echo.rego": `package switchyard

deny contains sprintf("%s %s %v", [key, kind, e.passed]) if {
	some key, entry in input.evidence
	some kind, e in entry
}
`}

func TestCheckerEvidenceIsForTheVersionsTheHeadChanges(t *testing.T) {
	repo := &notedRepo{notes: []notes.Noted{
		noted("a", 1,
			validationNote("production", "v2", false),
			validationNote("staging", "v2", true),
			validationNote("production", "v3", false),
			`{"kind":"shadow","model":"fraud","stage":"production","payload":{"version":"v2","passed":true,"agreement":0.99,"samples":900}}`,
			`{"kind":"rollout","model":"fraud","stage":"production","payload":{"version":"v2","outcome":"succeeded"}}`),
		noted("b", 2, validationNote("production", "v2", true)),
	}}
	got := errorsOf(judge(t, repo, "v2", echoEvidence))
	sort.Strings(got)
	want := []string{"fraud/production/v2 shadow true", "fraud/production/v2 validation true", "fraud/staging/v2 validation true"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("evidence seen by the policies:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCheckerRejectsTheHeadWhenNotesCannotBeRead(t *testing.T) {
	repo := &notedRepo{err: errors.New("object not found")}
	check := admission.Checker("rollouts", "policies", repo, fixedClock{})
	_, diags := check(context.Background(), "head", checkTree(t, "v2", nil), nil, "")
	got := errorsOf(diags)
	if len(got) != 1 || got[0] != "Verdict notes could not be read" {
		t.Fatalf("errors %v, want the notes' read error; diagnostics %+v", got, diags)
	}
}

func TestCheckerWithoutPoliciesReadsNoNotes(t *testing.T) {
	repo := &notedRepo{err: errors.New("must not be read")}
	check := admission.Checker("rollouts", "", repo, fixedClock{})
	_, diags := check(context.Background(), "head", checkTree(t, "v2", nil), nil, "")
	if errs := errorsOf(diags); len(errs) > 0 || len(repo.asked) > 0 {
		t.Fatalf("errors %v, notes read %v", errs, repo.asked)
	}
}

// echoLabels denies with every label the policies see.
var echoLabels = map[string]string{"echo.rego": `package switchyard

deny contains sprintf("label %s", [l]) if {
	some l in input.context.labels
}
`}

// The reconciler's own outcome is judged with its label; a commit that
// only carries its trailers is judged without, and a warning says why.
func TestCheckerLabelsOwnOutcomes(t *testing.T) {
	const why = "it carries Switchyard-Action: rollback but is not the reconciler's outcome: its tree differs from the rollback the reconciler writes on 1a2b3c4 in README.md"
	cases := []struct {
		name     string
		repo     *notedRepo
		errs     []string
		warnings []string
	}{
		{"own", &notedRepo{own: &gitops.OwnOutcome{Action: gitops.ActionRollback, Model: "fraud", Stage: "production"}},
			[]string{"label switchyard:rollback"}, nil},
		{"a person's commit", &notedRepo{}, nil, nil},
		{"trailers on another change", &notedRepo{why: why}, nil,
			[]string{"Commit head is judged as a person's commit, without the policy label switchyard:<action>: " + why + "."}},
		{"unreadable", &notedRepo{ownErr: errors.New("object not found")}, nil,
			[]string{"Commit head is judged as a person's commit, without the policy label switchyard:<action>: it could not be compared with the reconciler's outcome: object not found."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			diags := judge(t, c.repo, "v2", echoLabels)
			var warnings []string
			for _, d := range diags {
				if d.Severity == diag.Warning && d.Summary == "Not the reconciler's own outcome commit" {
					warnings = append(warnings, d.Detail)
				}
			}
			if got := errorsOf(diags); strings.Join(got, "|") != strings.Join(c.errs, "|") {
				t.Fatalf("labels seen by the policies %q, want %q", got, c.errs)
			}
			if strings.Join(warnings, "|") != strings.Join(c.warnings, "|") {
				t.Fatalf("warnings %q, want %q", warnings, c.warnings)
			}
		})
	}
}
