package admission_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/admission"
	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/gitops"
	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// opener stands for GitHub: it opens every pull request as number 7.
type opener struct{}

func (opener) OpenPullRequest(context.Context, gitops.PullRequest) (gitops.Opened, error) {
	return gitops.Opened{URL: "https://github.com/acme/specs/pull/7"}, nil
}

// stagingSpec is the staging stage of checkSpec's model, serving v2.
const stagingSpec = `model "fraud" "staging" {
  router = "edge"
  path   = "/staging/fraud"
  serve  = "v2"

  version "v1" { url = "http://127.0.0.1:19101" }
  version "v2" { url = "http://127.0.0.1:19102" }
}
`

// The default policies deny production a version staging has left, unless
// the change restores service: the reconciler's rollback, with its label.
// Its rollback pull request, merged in any of GitHub's three ways, is
// applied; the same pull request changed by a person before merging is
// judged as that person's commit, and denied.
func TestCheckerMergedRollbackPullRequest(t *testing.T) {
	styles := []gittest.MergeStyle{gittest.MergeCommit, gittest.Squash, gittest.Rebase}
	for _, style := range styles {
		for _, edited := range []bool{false, true} {
			name := string(style)
			if edited {
				name += ", edited"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				diags := mergeRollback(t, style, edited)
				errs := errorsOf(diags)
				if !edited {
					if len(errs) > 0 {
						t.Fatalf("the merged rollback is rejected: %+v", diags)
					}
					return
				}
				if len(errs) != 1 || !strings.Contains(errs[0], "production would serve v1, but staging serves v2") {
					t.Fatalf("errors %q, want the staging_first denial; diagnostics %+v", errs, diags)
				}
				warned := false
				for _, d := range diags {
					warned = warned || d.Severity == diag.Warning && d.Summary == "Not the reconciler's own outcome commit" &&
						strings.Contains(d.Detail, "its tree differs from the rollback the reconciler writes") && strings.Contains(d.Detail, "README.md")
				}
				if !warned {
					t.Fatalf("no warning says why the merged head is not the reconciler's: %+v", diags)
				}
			})
		}
	}
}

// mergeRollback promotes v2 in production, has the reconciler open its
// rollback pull request, changes it when edited (amending the reconciler's
// commit and keeping its message, the one edit that keeps the trailers in
// every merge style), merges it and returns the merged head's diagnostics.
func mergeRollback(t *testing.T, style gittest.MergeStyle, edited bool) []diag.Diagnostic {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	srv := gittest.NewServer(t)
	files := map[string]string{"rollouts/fraud.hcl": checkSpec("v1"), "rollouts/staging.hcl": stagingSpec,
		"datasets/fraud.jsonl": `{"input": {}, "expected": 1}` + "\n", "README.md": "specs\n"}
	for name, src := range defaultPolicies(t) {
		files["policies/"+name] = src
	}
	url := srv.CreateRepo("specs", files)
	first := srv.Head("specs")
	promoted := srv.CommitAs("specs", "promote fraud v2", map[string]string{"rollouts/fraud.hcl": checkSpec("v2")})
	repo, err := gitops.Open(ctx, gitops.Options{URL: url, Dir: filepath.Join(t.TempDir(), "clone"),
		Now: func() time.Time { return now }, PullRequests: opener{}})
	if err != nil {
		t.Fatal(err)
	}
	check := admission.Checker("rollouts", "policies", repo, fixedClock{})
	judgeAt := func(commit string, base *spec.Tree, applied string) (*spec.Tree, []diag.Diagnostic) {
		fsys, _, err := repo.TreeAt(commit)
		if err != nil {
			t.Fatal(err)
		}
		return check(ctx, commit, fsys, base, applied)
	}
	base, diags := judgeAt(first, nil, "")
	if diag.HasErrors(diags) {
		t.Fatalf("the first commit is rejected: %+v", diags)
	}
	base, diags = judgeAt(promoted, base, first)
	if diag.HasErrors(diags) {
		t.Fatalf("the promotion is rejected: %+v", diags)
	}

	w, err := repo.WriteOutcomeDetail(ctx, rollout.WriteCommit{Kind: rollout.CommitRollback, Model: "fraud", Stage: "production",
		File: "rollouts/fraud.hcl", From: "v2", To: "v1", Reason: `check "errors" failed`})
	if err != nil || w.PullRequest == "" {
		t.Fatalf("rollback pull request: %+v, %v", w, err)
	}
	branch := "switchyard/rollback-fraud-production-" + commitid.Short(promoted)
	if edited {
		srv.AmendOnBranch("specs", branch, map[string]string{"README.md": "specs, and an unrelated change\n"})
	}
	head := srv.MergePullRequest("specs", branch, 7, style, "")
	if _, _, err := repo.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	_, diags = judgeAt(head, base, promoted)
	return diags
}
