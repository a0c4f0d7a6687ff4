package action

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/gitops"
)

// openRepo opens the Git repository checked out in the workspace.
func openRepo(workspace string) (*git.Repository, error) {
	repo, err := git.PlainOpenWithOptions(workspace, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, envErrorf("opening the Git repository in %s: %v (check out the repository with actions/checkout first)", workspace, err)
	}
	return repo, nil
}

// commitOf looks up a commit the event names. A commit missing from the
// checkout is almost always a shallow clone.
func commitOf(repo *git.Repository, sha, what string) (*object.Commit, error) {
	c, err := repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			shallow := ""
			if s, _ := repo.Storer.Shallow(); len(s) > 0 {
				shallow = " (the checkout is shallow)"
			}
			return nil, envErrorf("the %s commit %s is not in the checkout%s: set fetch-depth: 0 on actions/checkout so that the action can compare the %s with the change", what, commitid.Short(sha), shallow, what)
		}
		return nil, envErrorf("reading the %s commit %s: %v", what, commitid.Short(sha), err)
	}
	return c, nil
}

// newTreeFS returns the file tree of commit c (read from the object
// store, nothing checked out).
func newTreeFS(repo *git.Repository, c *object.Commit) (fs.FS, error) {
	fsys, _, err := gitops.TreeFS(repo, c.Hash.String())
	if err != nil {
		return nil, fmt.Errorf("reading the tree of %s: %w", commitid.Short(c.Hash.String()), err)
	}
	return fsys, nil
}

// headCommit picks the commit to judge: the workspace's HEAD when it is
// the merge of the PR's head into its base (actions/checkout's default for
// pull_request, which is what merging would produce), else the PR's head.
func headCommit(repo *git.Repository, base *object.Commit, headSHA string) (*object.Commit, error) {
	if ref, err := repo.Head(); err == nil {
		if c, err := repo.CommitObject(ref.Hash()); err == nil {
			if c.Hash.String() == headSHA {
				return c, nil
			}
			if len(c.ParentHashes) == 2 && c.ParentHashes[0] == base.Hash && c.ParentHashes[1].String() == headSHA {
				return c, nil
			}
		}
	}
	return commitOf(repo, headSHA, "head")
}
