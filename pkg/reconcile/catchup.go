package reconcile

import (
	"context"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

// CommitLister is a Repo that can list the commits a branch went through
// between two fetches (gitops.Repo.FirstParentsBetween: oldest first,
// neither end, nil when from is not an ancestor of to). Without it a head
// rejected against the commit in force waits for the next head.
type CommitLister interface {
	FirstParentsBetween(ctx context.Context, from, to string) ([]string, error)
}

// catchUp is for a head rejected against the commit in force that is more
// than one commit ahead of it: it takes the oldest commit in between, when
// that one passes against the commit in force, as if the branch had been
// fetched right after it, and reports whether it did. Pass after pass the
// commits are taken one at a time, each judged against the one before,
// until the head passes or one of them is rejected (then the head is
// rejected against the last one taken). So two merges that reach the
// reconciler in one fetch, staging's promotion and then production's
// (which the staging_first policy judges against a commit where staging
// already serves the version), are carried out as they were merged, and
// not refused for good.
func (d *Daemon) catchUp(ctx context.Context, head string) bool {
	lister, ok := d.deps.Repo.(CommitLister)
	if !ok || d.appliedCommit == "" {
		return false
	}
	commits, err := lister.FirstParentsBetween(ctx, d.appliedCommit, head)
	if err != nil {
		d.log.Warn("listing the commits between the commit in force and the head", "head", head, "err", err)
		return false
	}
	if len(commits) == 0 {
		return false
	}
	next := commits[0]
	fsys, err := d.deps.Repo.Tree(ctx, next)
	if err != nil {
		d.log.Warn("reading a commit before the rejected head", "commit", next, "err", err)
		return false
	}
	tree, diags := d.deps.Check(ctx, next, fsys, d.tree, d.appliedCommit)
	if diag.HasErrors(diags) || tree == nil {
		return false
	}
	d.log.Info("the head is rejected against the commit in force: taking the commits before it one at a time", "commit", next, "head", head)
	d.use(ctx, next, tree, false)
	return true
}
