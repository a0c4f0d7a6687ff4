package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-git/go-git/v5"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/gitops"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// dispatch handles a workflow_dispatch with `rollback: <model>/<stage>`:
// it finds the last commit that changed the model's serve on the default
// branch and opens a pull request that reverts it (a true revert when it
// reverts cleanly, otherwise an edit that sets serve back).
func (r *runner) dispatch(ctx context.Context) (int, error) {
	d := r.ev.dispatch
	name, stage, ok := strings.Cut(d.rollback, "/")
	if !ok || name == "" || stage == "" || strings.Contains(stage, "/") {
		return ExitEnvironment, envErrorf("the rollback input %q is not <model>/<stage>, such as fraud/production", d.rollback)
	}
	ws, err := openRepo(r.cfg.Workspace)
	if err != nil {
		return ExitEnvironment, err
	}
	origin, err := ws.Remote("origin")
	if err != nil || len(origin.Config().URLs) == 0 {
		return ExitEnvironment, envErrorf("the workspace has no origin remote to push the revert branch to (check out the repository with actions/checkout)")
	}
	branch := d.defaultBranch
	if branch == "" {
		branch = strings.TrimPrefix(d.ref, "refs/heads/")
	}
	tmp, err := os.MkdirTemp(r.cfg.TempDir, "switchyard-rollback-")
	if err != nil {
		return ExitEnvironment, envErrorf("creating a scratch clone: %v", err)
	}
	defer os.RemoveAll(tmp)
	gr, err := gitops.Open(ctx, gitops.Options{
		URL: origin.Config().URLs[0], Branch: branch, Dir: tmp, Token: r.cfg.Token,
		AuthorName: "github-actions[bot]", AuthorEmail: "41898282+github-actions[bot]@users.noreply.github.com",
		Now: r.cfg.Now, PullRequests: prOpener{r},
	})
	if err != nil {
		return ExitEnvironment, fmt.Errorf("cloning %s to write the revert: %w", branch, err)
	}
	clone, err := git.PlainOpen(tmp)
	if err != nil {
		return ExitEnvironment, fmt.Errorf("opening the scratch clone: %w", err)
	}
	head, err := gr.Head()
	if err != nil {
		return ExitEnvironment, err
	}
	cur, err := modelAt(clone, head, r.cfg.Path, name, stage)
	if err != nil {
		return ExitEnvironment, err
	}
	if cur == nil {
		return ExitEnvironment, envErrorf("no model %q %q in %s/ on %s: nothing to roll back", name, stage, r.cfg.Path, branch)
	}
	last, err := gr.LastServeChange(ctx, cur.File, name, stage)
	if err != nil {
		return ExitEnvironment, fmt.Errorf("finding the last promotion of %s/%s: %w", name, stage, err)
	}
	var prev *spec.Model
	if len(last.Parents) > 0 {
		if prev, err = modelAt(clone, last.Parents[0], r.cfg.Path, name, stage); err != nil {
			return ExitEnvironment, err
		}
	}
	if prev == nil || prev.Serve == "" || prev.Serve == cur.Serve {
		return ExitEnvironment, envErrorf("%s/%s has served %s since commit %s (%q) added it: there is no earlier version to roll back to", name, stage, cur.Serve, commitid.Short(last.SHA), last.Title)
	}
	w, err := gr.WriteOutcomeDetail(ctx, rollout.WriteCommit{
		Kind: rollout.CommitRollback, Model: name, Stage: stage, File: cur.File,
		From: cur.Serve, To: prev.Serve, RevertsCommit: last.SHA,
		Reason: fmt.Sprintf("rollback requested by @%s through workflow_dispatch", r.ev.actor),
	})
	if errors.Is(err, gitops.ErrSuperseded) {
		return ExitEnvironment, fmt.Errorf("rolling back %s/%s: %w", name, stage, err)
	}
	if err != nil {
		return ExitEnvironment, fmt.Errorf("writing the revert of %s: %w", commitid.Short(last.SHA), err)
	}
	kind := "a revert of"
	if !w.Revert {
		kind = "a serve edit undoing"
	}
	msg := fmt.Sprintf("Opened %s for %s/%s: %s %s (%q), %s → %s", w.PullRequest, name, stage, kind, commitid.Short(last.SHA), last.Title, cur.Serve, prev.Serve)
	fmt.Fprintln(r.cfg.Stdout, "switchyard: "+msg)
	md := fmt.Sprintf("## Switchyard: roll back `%s/%s`\n\n%s.\n\nMerge it to roll back; the reconciler carries the change out.\n", name, stage, msg)
	if err := writeSummary(r.cfg.SummaryPath, md); err != nil {
		return ExitEnvironment, err
	}
	if err := writeOutputs(r.cfg.OutputPath, []Output{{"pull-request", w.PullRequest}}); err != nil {
		return ExitEnvironment, err
	}
	return ExitOK, nil
}

// modelAt loads the spec tree at rev and returns the model, or nil.
func modelAt(repo *git.Repository, rev, dir, name, stage string) (*spec.Model, error) {
	fsys, _, err := gitops.TreeFS(repo, rev)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", commitid.Short(rev), err)
	}
	tree, _ := spec.Load(fsys, dir)
	if tree == nil {
		return nil, nil
	}
	return tree.Model(name, stage), nil
}

// prOpener opens the revert pull request through the action's GitHub client.
type prOpener struct{ r *runner }

var _ gitops.PullRequestOpener = prOpener{}

func (o prOpener) OpenPullRequest(ctx context.Context, pr gitops.PullRequest) (gitops.Opened, error) {
	body := gitops.WithParagraph(pr.Body, "Opened by the Switchyard action (workflow_dispatch `rollback`). Merging it rolls back; the reconciler carries it out.")
	n, url, err := o.r.gh.CreatePull(ctx, o.r.owner, o.r.repo, NewPull{Title: pr.Title, Head: pr.Branch, Base: pr.Base, Body: body})
	if err != nil {
		return gitops.Opened{}, err
	}
	if url == "" {
		url = fmt.Sprintf("#%d", n)
	}
	return gitops.Opened{URL: url}, nil
}
