package action

import (
	"context"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/switchyard-dev/switchyard/pkg/notes"
)

// NotesRef holds the verdicts, one JSON note per judged commit.
const NotesRef = notes.Ref

// remoteNotesRef is where a `git fetch origin` of the notes may have put
// them: actions/checkout fetches no notes itself.
const remoteNotesRef = "refs/remotes/origin/notes/switchyard"

// historyNotes reads the verdict notes of the newest commits of head's
// history from the checkout, as the reconciler does after the merge (see
// package notes). A missing notes ref, or one not fetched in full, means
// no evidence; a note that cannot be read is an error.
func historyNotes(ctx context.Context, repo *git.Repository, head plumbing.Hash) ([]notes.Noted, error) {
	var tree *object.Tree
	for _, name := range []string{NotesRef, remoteNotesRef} {
		ref, err := repo.Reference(plumbing.ReferenceName(name), true)
		if err != nil {
			continue
		}
		c, err := repo.CommitObject(ref.Hash())
		if err != nil {
			break // a notes ref not fetched in full: no evidence
		}
		if tree, err = c.Tree(); err != nil {
			tree = nil
		}
		break
	}
	if tree == nil {
		return nil, nil
	}
	noted, err := notes.History(ctx, repo.Storer, head, notes.MaxHistory, notes.InTree(tree))
	if err != nil {
		return nil, envErrorf("reading the verdict notes under %s: %v", NotesRef, err)
	}
	return noted, nil
}
