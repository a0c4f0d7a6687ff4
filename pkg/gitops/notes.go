package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/switchyard-dev/switchyard/pkg/notes"
)

// remoteNotesRef tracks the remote's notes (fetched with
// +refs/notes/*:refs/switchyard-remote/notes/*).
const remoteNotesRef = plumbing.ReferenceName("refs/switchyard-remote/notes/switchyard")

type pendingNote struct {
	target plumbing.Hash
	data   []byte // compact JSON, one line
}

// AddNote attaches a JSON verdict to commit under refs/notes/switchyard and
// pushes it. A commit's note holds one JSON object per line (JSON Lines),
// so several verdicts can judge one commit; adding the same verdict twice
// changes nothing. `git notes --ref switchyard show <sha>` prints it. A
// failed push returns its error and keeps nothing: the caller retries.
func (r *Repo) AddNote(ctx context.Context, commit string, verdict []byte) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, verdict); err != nil {
		return fmt.Errorf("note for %s: not valid JSON: %w", commit, err)
	}
	r.mu.Lock()
	h, err := r.objectID(ctx, commit)
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("note for %s: %w", commit, err)
	}
	_, err = r.flushDirect(ctx, nil, []pendingNote{{target: h, data: buf.Bytes()}})
	return err
}

// ReadNotes returns the verdicts attached to commit, oldest first, on the
// remote's notes as of the last fetch or push.
func (r *Repo) ReadNotes(commit string) ([]json.RawMessage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, err := r.objectID(context.Background(), commit)
	if err != nil {
		return nil, fmt.Errorf("read notes of %s: %w", commit, err)
	}
	tree, err := r.remoteNotesTree()
	if err != nil {
		return nil, err
	}
	return r.notesOf(tree, h)
}

// NotesHead returns the commit the remote's refs/notes/switchyard points
// at as of the last fetch or push, "" when the remote has no notes. A new
// value means some verdict was added, replaced or removed: the reconciler
// compares it to judge a rejected head again. Notes queued but not pushed
// yet do not change it.
func (r *Repo) NotesHead() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref, err := r.repo.Reference(remoteNotesRef, true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", remoteNotesRef, err)
	}
	return ref.Hash().String(), nil
}

// remoteNotesTree is the tree of the remote's notes as of the last fetch
// or push; the zero hash when the remote has none.
func (r *Repo) remoteNotesTree() (plumbing.Hash, error) {
	ref, err := r.repo.Reference(remoteNotesRef, true)
	if err != nil {
		return plumbing.ZeroHash, nil //nolint:nilerr // no notes yet
	}
	nc, err := r.repo.CommitObject(ref.Hash())
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read notes commit %s: %w", ref.Hash(), err)
	}
	return nc.TreeHash, nil
}

// notesOf returns the verdicts attached to target in the notes tree (zero:
// none), one per line.
func (r *Repo) notesOf(tree, target plumbing.Hash) ([]json.RawMessage, error) {
	if tree.IsZero() {
		return nil, nil
	}
	c, _, err := r.noteIn(tree, target)
	if err != nil {
		return nil, err
	}
	return notes.Lines(c), nil
}

// objectID is a full sha as given (the commit may not be fetched yet), or
// a revision resolved in the clone, fetching once if it is not found.
func (r *Repo) objectID(ctx context.Context, rev string) (plumbing.Hash, error) {
	if plumbing.IsHash(rev) {
		return plumbing.NewHash(rev), nil
	}
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		if _, _, ferr := r.fetch(ctx); ferr != nil {
			return plumbing.ZeroHash, err
		}
		if h, err = r.repo.ResolveRevision(plumbing.Revision(rev)); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	return *h, nil
}

// noteIn reads target's note from a notes tree (see notes.Find).
func (r *Repo) noteIn(tree plumbing.Hash, target plumbing.Hash) ([]byte, string, error) {
	t, err := object.GetTree(r.repo.Storer, tree)
	if err != nil {
		return nil, "", fmt.Errorf("read notes tree %s: %w", tree, err)
	}
	return notes.Find(t, target.String())
}

// buildNotes commits pending on top of the remote's notes and points
// refs/notes/switchyard at it. Zero hash: nothing to add.
func (r *Repo) buildNotes(pending []pendingNote) (plumbing.Hash, error) {
	if len(pending) == 0 {
		return plumbing.ZeroHash, nil
	}
	var parents []plumbing.Hash
	base := plumbing.ZeroHash
	if ref, err := r.repo.Reference(remoteNotesRef, true); err == nil {
		nc, err := r.repo.CommitObject(ref.Hash())
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read notes commit %s: %w", ref.Hash(), err)
		}
		parents, base = []plumbing.Hash{nc.Hash}, nc.TreeHash
	}
	changes := map[string]treeChange{}
	contents := map[plumbing.Hash][]byte{}
	paths := map[plumbing.Hash]string{}
	for _, n := range pending {
		if _, seen := contents[n.target]; !seen && !base.IsZero() {
			c, p, err := r.noteIn(base, n.target)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			contents[n.target], paths[n.target] = c, p
		}
		if !notes.HasLine(contents[n.target], n.data) {
			contents[n.target] = notes.AppendLine(contents[n.target], n.data)
		}
	}
	for target, content := range contents {
		blob, err := r.writeBlob(content)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		p := paths[target]
		if p == "" {
			p = target.String()
		}
		changes[p] = treeChange{hash: blob, mode: filemode.Regular}
	}
	tree, err := r.rewriteTree(base, changes)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if tree == base {
		return plumbing.ZeroHash, nil // every note already there
	}
	h, err := r.writeCommit(tree, parents, "Notes added by Switchyard\n")
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(NotesRef, h)); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("update %s: %w", NotesRef, err)
	}
	return h, nil
}

func readBlob(b *object.Blob) ([]byte, error) {
	rd, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", b.Hash, err)
	}
	defer rd.Close()
	out, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", b.Hash, err)
	}
	return out, nil
}
