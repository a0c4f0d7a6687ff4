package gitops

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/switchyard-dev/switchyard/pkg/notes"
)

// HistoryNotes returns the verdict notes of the newest limit commits of
// head's history (notes.History; limit <= 0: notes.MaxHistory), oldest
// first, leaving out commits without notes. Notes are the remote's as of
// the last fetch or push. Why the history and
// not only what head brings in: see package notes.
func (r *Repo) HistoryNotes(ctx context.Context, head string, limit int) ([]notes.Noted, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	hc, err := r.resolve(head)
	if err != nil {
		return nil, fmt.Errorf("notes of the history of %s: %w", head, err)
	}
	tree, err := r.remoteNotesTree()
	if err != nil {
		return nil, err
	}
	if tree.IsZero() {
		return nil, nil // no notes at all: nothing to walk for
	}
	return notes.History(ctx, r.repo.Storer, hc.Hash, limit, func(c plumbing.Hash) ([]json.RawMessage, error) {
		return r.notesOf(tree, c)
	})
}
