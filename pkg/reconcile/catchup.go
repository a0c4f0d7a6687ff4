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
// than one commit ahead of it. It applies the commits in between, oldest
// first, each judged against the one applied before it, as if the branch
// had been fetched after each, and stops at the first it rejects; it
// reports whether it applied any (the head is then judged against the
// newest). So two merges that reach the reconciler in one fetch, staging's
// promotion and then production's (which the staging_first policy judges
// against a commit where staging already serves the version), are carried
// out as they were merged, and not refused for good.
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
	applied := false
	for _, c := range commits {
		fsys, err := d.deps.Repo.Tree(ctx, c)
		if err != nil {
			d.log.Warn("reading a commit before the rejected head", "commit", c, "err", err)
			break
		}
		tree, diags := d.deps.Check(ctx, c, fsys, d.tree, d.appliedCommit)
		if diag.HasErrors(diags) || tree == nil {
			break
		}
		d.log.Info("the head is rejected against the commit in force: taking the commits before it one at a time", "commit", c, "head", head)
		d.use(ctx, c, tree, false)
		applied = true
	}
	return applied
}
