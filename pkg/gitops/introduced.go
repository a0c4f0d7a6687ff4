package gitops

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// CommitNotes is a commit and the verdict notes attached to it.
type CommitNotes struct {
	SHA       string
	Committed time.Time // committer time
	Notes     []json.RawMessage
}

// IntroducedNotes returns the verdict notes of the commits that head
// brings in over base, the commit in force: every commit reachable from
// head and not from base (`git rev-list base..head`), oldest first by
// committer time, leaving out commits without notes. A merge commit brings
// in the branch it merges, so the head commit of a merged pull request
// counts as well as the merge itself (and a fast-forward brings in the
// pull request's commits themselves). With base "" or unknown to the
// clone, head brings in what it adds to its first parent. At most limit
// commits are looked at, the newest. Notes are the remote's as of the last
// fetch or push, and those queued to push.
func (r *Repo) IntroducedNotes(ctx context.Context, base, head string, limit int) ([]CommitNotes, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	hc, err := r.resolve(head)
	if err != nil {
		return nil, fmt.Errorf("notes introduced by %s: %w", head, err)
	}
	tree, err := r.remoteNotesTree()
	if err != nil {
		return nil, err
	}
	if tree.IsZero() && len(r.notes) == 0 {
		return nil, nil // no notes at all: nothing to walk for
	}
	var bases []plumbing.Hash
	if base != "" {
		if bc, err := r.resolve(base); err == nil {
			bases = append(bases, bc.Hash)
		}
	}
	if len(bases) == 0 && len(hc.ParentHashes) > 0 {
		bases = append(bases, hc.ParentHashes[0])
	}
	commits, err := r.revList(ctx, hc, bases, limit)
	if err != nil {
		return nil, err
	}
	var out []CommitNotes
	for i := len(commits) - 1; i >= 0; i-- {
		c := commits[i]
		notes, err := r.notesOf(tree, c.Hash)
		if err != nil {
			return nil, err
		}
		if len(notes) > 0 {
			out = append(out, CommitNotes{SHA: c.Hash.String(), Committed: c.Committer.When, Notes: notes})
		}
	}
	return out, nil
}

// Marks of the history walk.
const (
	fromHead uint8 = 1 << iota // reachable from head
	fromBase                   // reachable from a base: not introduced
)

// walkSlop is how many more commits the walk visits once only commits
// reachable from a base are left, so that a base's side can still reach a
// commit listed early because of clock skew (git rev-list does the same).
const walkSlop = 8

// revList lists the commits reachable from head and from none of bases,
// newest first by committer time, at most limit (<= 0: no bound). It walks
// both sides newest first, as git rev-list does, the bases' side first
// among commits of the same second, and stops once every commit left to
// visit is reachable from a base. History missing from the clone ends a
// path.
func (r *Repo) revList(ctx context.Context, head *object.Commit, bases []plumbing.Hash, limit int) ([]*object.Commit, error) {
	marks := map[plumbing.Hash]uint8{}
	q := &walkQueue{}
	mark := func(h plumbing.Hash, m uint8) error {
		if marks[h]|m == marks[h] {
			return nil // nothing new to pass on
		}
		marks[h] |= m
		c, err := r.repo.CommitObject(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read commit %s: %w", h, err)
		}
		heap.Push(q, walkItem{c: c, mark: marks[h]})
		return nil
	}
	marks[head.Hash] = fromHead
	heap.Push(q, walkItem{c: head, mark: fromHead})
	for _, b := range bases {
		if err := mark(b, fromBase); err != nil {
			return nil, err
		}
	}
	var out []*object.Commit
	listed := map[plumbing.Hash]bool{}
	slop := walkSlop
	for q.Len() > 0 && slop > 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("walk history: %w", err)
		}
		if q.allFromBase() {
			slop--
		}
		c := heap.Pop(q).(walkItem).c
		m := marks[c.Hash]
		if m == fromHead && !listed[c.Hash] {
			listed[c.Hash] = true
			out = append(out, c)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		for _, p := range c.ParentHashes {
			if err := mark(p, m); err != nil {
				return nil, err
			}
		}
	}
	// A commit listed before a base's side reached it (clock skew) is not
	// introduced after all.
	kept := out[:0]
	for _, c := range out {
		if marks[c.Hash]&fromBase == 0 {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

// walkItem is a commit to visit with its marks when it was queued.
type walkItem struct {
	c    *object.Commit
	mark uint8
}

// walkQueue is a heap of commits to visit: the newest committer time on
// top, and of the same time, those reachable from a base first.
type walkQueue []walkItem

func (q walkQueue) Len() int { return len(q) }
func (q walkQueue) Less(i, j int) bool {
	ti, tj := q[i].c.Committer.When, q[j].c.Committer.When
	if !ti.Equal(tj) {
		return ti.After(tj)
	}
	return q[i].mark&fromBase > q[j].mark&fromBase
}
func (q walkQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *walkQueue) Push(x any)   { *q = append(*q, x.(walkItem)) }
func (q *walkQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// allFromBase reports whether every commit left was queued as reachable
// from a base.
func (q walkQueue) allFromBase() bool {
	for _, it := range q {
		if it.mark&fromBase == 0 {
			return false
		}
	}
	return true
}
