// Package admission decides whether the reconciler may apply a head: it
// loads and validates the head's specs, picks the policies that judge it
// (those of the commit in force), builds the policy context from the
// commit (its author, the label of an outcome commit the reconciler wrote)
// and the evidence from the verdict notes of its history, and judges it on
// the one admission path, plan.Make, that the GitHub Action, `validate` and
// `plan` use too.
package admission

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/gitops"
	"github.com/switchyard-dev/switchyard/pkg/notes"
	"github.com/switchyard-dev/switchyard/pkg/plan"
	"github.com/switchyard-dev/switchyard/pkg/policy"
	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Checker loads and validates a tree, then judges it with policies against
// the tree in force (base). The policies come from the last commit that was
// applied, so that a pushed head cannot weaken the rules that judge it; the
// first commit is judged by its own. A commit that is the reconciler's own
// outcome (gitops.RecogniseOutcome: pushed by it, or its pull request
// merged in any of GitHub's three ways, and changing exactly what it wrote)
// is judged with the label "switchyard:<action>", so that policies can let
// a rollback through; one that only carries the trailers gets a warning
// saying what differs, and no label. The
// policies' evidence is read from the verdict notes of the head's history
// (plan.Evidence, the same as the GitHub Action's).
func Checker(path, policies string, repo CommitReader, clock reconcile.Clock) reconcile.Checker {
	var judges *policy.Set // the policies of the last applied commit
	return func(ctx context.Context, commit string, fsys fs.FS, base *spec.Tree, _ string) (*spec.Tree, []diag.Diagnostic) {
		tree, diags := spec.Load(fsys, path)
		if diag.HasErrors(diags) || tree == nil {
			return tree, diags
		}
		var own *policy.Set
		if policies != "" {
			if _, err := fs.Stat(fsys, policies); err == nil {
				s, err := policy.Load(ctx, fsys, policies, policy.WithClock(clock.Now))
				if err != nil {
					return tree, append(diags, diag.Diagnostic{Severity: diag.Error, Source: diag.SourcePolicy,
						Summary: "Policies do not compile", Detail: err.Error()})
				}
				own = s
			}
		}
		set := judges
		if set == nil || base == nil {
			set = own
		}
		pctx := policy.Context{Event: "push", Actor: "switchyard-reconciler", Now: clock.Now(), Labels: []string{}}
		if repo != nil {
			if c, err := repo.CommitInfo(commit); err == nil {
				pctx.Actor = c.Author
			}
			var label diag.Diagnostic
			pctx.Labels, label = ownLabel(ctx, repo, commit)
			if label.Summary != "" {
				diags = append(diags, label)
			}
		}
		var evidence map[string]any
		if repo != nil && set != nil {
			noted, err := repo.HistoryNotes(ctx, commit, notes.MaxHistory)
			if err != nil {
				// Judging without the evidence could let through what it
				// would deny: the last good commit keeps running instead.
				return tree, append(diags, diag.Diagnostic{Severity: diag.Error, Source: diag.SourcePolicy,
					Summary: "Verdict notes could not be read",
					Detail:  fmt.Sprintf("reading the verdict notes of the history of %s: %v", commit, err)})
			}
			evidence = plan.Evidence(noted, base, tree)
		}
		p, err := plan.Make(ctx, base, tree, diags, plan.Options{Policies: set, Evidence: evidence, Context: pctx})
		if err != nil {
			return tree, append(diags, diag.Diagnostic{Severity: diag.Error, Source: diag.SourcePolicy,
				Summary: "Policy evaluation failed", Detail: err.Error()})
		}
		out := p.All()
		if !diag.HasErrors(out) {
			judges = own // this commit will be applied: its policies judge the next
		}
		return tree, out
	}
}

// CommitReader reads a commit's message and author, the verdict notes of a
// head's history (see gitops.Repo.HistoryNotes), and whether a commit is
// the reconciler's own outcome (gitops.Repo.RecogniseOutcome).
type CommitReader interface {
	CommitInfo(rev string) (gitops.Commit, error)
	HistoryNotes(ctx context.Context, head string, limit int) ([]notes.Noted, error)
	RecogniseOutcome(ctx context.Context, rev string) (*gitops.OwnOutcome, string, error)
}

// ownLabel is the policy labels of commit: "switchyard:<action>" when it
// is the reconciler's own outcome, none otherwise. A commit that carries
// the trailers without being one gets a warning that says why.
func ownLabel(ctx context.Context, repo CommitReader, commit string) ([]string, diag.Diagnostic) {
	own, why, err := repo.RecogniseOutcome(ctx, commit)
	switch {
	case err != nil:
		why = "it could not be compared with the reconciler's outcome: " + err.Error()
	case own != nil:
		return []string{"switchyard:" + string(own.Action)}, diag.Diagnostic{}
	case why == "":
		return []string{}, diag.Diagnostic{}
	}
	return []string{}, diag.Diagnostic{Severity: diag.Warning, Source: diag.SourcePolicy,
		Summary: "Not the reconciler's own outcome commit",
		Detail: fmt.Sprintf("Commit %s is judged as a person's commit, without the policy label switchyard:<action>: %s.",
			commitid.Short(commit), why)}
}
