// Package notes owns the verdict notes format (SPEC.md §6): the ref they
// live under, where a commit's note sits in the notes tree (flat or fanned
// out), the JSON Lines a note holds, which notes are the evidence for
// judging a head (those on the commits of its history, see History), and
// how verdicts become the policy input's evidence (Evidence). Writers are
// backends of it: pkg/gitops writes with a clone, pkg/ghnotes through
// GitHub's Git Data API.
//
// Why the commits of the head's history: the GitHub Action in review and
// the reconciler after the merge must see the same evidence, or a policy
// can pass in review and deny at merge. The verdicts a change is judged by
// sit on two kinds of commits: offline validations on the pull request's
// head (which the merge brings in) and shadow assessments on the commit
// that was in force while the shadow ran (on the base branch, before the
// pull request). Both are in the history of the pull request's head, of
// its merge commit and of the merged branch; a verdict on a commit that
// never reached the head (an abandoned pull request) is not. So both
// callers read the notes of the newest commits of the head's history.
package notes

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Ref holds the verdicts, one note of JSON Lines per judged commit.
const Ref = "refs/notes/switchyard"

// MaxBytes bounds one note read.
const MaxBytes = 1 << 20

// MaxHistory bounds the commits of a head's history whose notes are its
// evidence: the newest ones.
const MaxHistory = 1000

// Paths are the places a commit's note may sit in a notes tree: flat, or
// under one or two levels of fanout directories ("ab/cdef...").
func Paths(sha string) []string {
	if len(sha) < 4 {
		return []string{sha}
	}
	return []string{sha, sha[:2] + "/" + sha[2:], sha[:2] + "/" + sha[2:4] + "/" + sha[4:]}
}

// Find reads the note of commit sha in a notes tree and returns it with its
// path there; no note: nil and "". A note over MaxBytes is an error.
func Find(tree *object.Tree, sha string) ([]byte, string, error) {
	for _, p := range Paths(sha) {
		f, err := tree.File(p)
		if err != nil {
			continue
		}
		if f.Size > MaxBytes {
			return nil, "", fmt.Errorf("note of %s: %d bytes, over the %d bytes a note may have", sha, f.Size, MaxBytes)
		}
		rd, err := f.Reader()
		if err != nil {
			return nil, "", fmt.Errorf("read note of %s: %w", sha, err)
		}
		b, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			return nil, "", fmt.Errorf("read note of %s: %w", sha, err)
		}
		return b, p, nil
	}
	return nil, "", nil
}

// Lines are the non-empty lines of a note, each one verdict.
func Lines(note []byte) []json.RawMessage {
	var out []json.RawMessage
	for _, line := range strings.Split(string(note), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, json.RawMessage(line))
		}
	}
	return out
}

// HasLine reports whether note holds line.
func HasLine(note, line []byte) bool {
	for _, l := range bytes.Split(note, []byte("\n")) {
		if bytes.Equal(bytes.TrimSpace(l), line) {
			return true
		}
	}
	return false
}

// AppendLine returns note with line added as its last line.
func AppendLine(note, line []byte) []byte {
	out := append([]byte(nil), note...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = append(out, line...)
	return append(out, '\n')
}

// Noted is a commit and the verdicts noted on it.
type Noted struct {
	SHA       string
	Committed time.Time // committer time
	Notes     []json.RawMessage
}

// At is the commit's time as the evidence reads it (RFC 3339, UTC).
func (n Noted) At() string { return n.Committed.UTC().Format(time.RFC3339) }

// NoteOf returns the verdicts noted on a commit (none: nil).
type NoteOf func(commit plumbing.Hash) ([]json.RawMessage, error)

// History returns the noted commits among the newest limit commits of
// head's history (head included; limit <= 0: MaxHistory), oldest first by
// committer time. History missing from the object store (a shallow clone)
// ends a path.
func History(ctx context.Context, s storer.EncodedObjectStorer, head plumbing.Hash, limit int, noteOf NoteOf) ([]Noted, error) {
	if limit <= 0 {
		limit = MaxHistory
	}
	hc, err := object.GetCommit(s, head)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", head, err)
	}
	seen := map[plumbing.Hash]bool{head: true}
	q := &byTime{hc}
	var walked []*object.Commit
	for q.Len() > 0 && len(walked) < limit {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("walk history: %w", err)
		}
		c := heap.Pop(q).(*object.Commit)
		walked = append(walked, c)
		for _, p := range c.ParentHashes {
			if seen[p] {
				continue
			}
			seen[p] = true
			pc, err := object.GetCommit(s, p)
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read commit %s: %w", p, err)
			}
			heap.Push(q, pc)
		}
	}
	var out []Noted
	for i := len(walked) - 1; i >= 0; i-- {
		c := walked[i]
		ns, err := noteOf(c.Hash)
		if err != nil {
			return nil, err
		}
		if len(ns) > 0 {
			out = append(out, Noted{SHA: c.Hash.String(), Committed: c.Committer.When, Notes: ns})
		}
	}
	return out, nil
}

// byTime is a heap of commits, the newest committer time on top.
type byTime []*object.Commit

func (q byTime) Len() int           { return len(q) }
func (q byTime) Less(i, j int) bool { return q[i].Committer.When.After(q[j].Committer.When) }
func (q byTime) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *byTime) Push(x any)        { *q = append(*q, x.(*object.Commit)) }
func (q *byTime) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// InTree is a NoteOf reading the notes tree tree (nil: no notes).
func InTree(tree *object.Tree) NoteOf {
	return func(commit plumbing.Hash) ([]json.RawMessage, error) {
		if tree == nil {
			return nil, nil
		}
		b, _, err := Find(tree, commit.String())
		if err != nil {
			return nil, err
		}
		return Lines(b), nil
	}
}

// Merge puts lines into a note (JSON Lines): each line replaces the lines
// of the note that have its key (key(line); "" never matches), in the
// place of the first of them, or is appended. Every other line of the note
// stays as it was; empty lines go.
func Merge(note []byte, lines [][]byte, key func(line []byte) string) []byte {
	byKey := map[string][]byte{}
	for _, l := range lines {
		if k := key(l); k != "" {
			byKey[k] = l
		}
	}
	var out bytes.Buffer
	placed := map[string]bool{}
	put := func(l []byte) {
		out.Write(l)
		out.WriteByte('\n')
	}
	for _, line := range bytes.Split(note, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		k := key(line)
		if byKey[k] == nil {
			put(line)
			continue
		}
		if !placed[k] {
			placed[k] = true
			put(byKey[k])
		}
	}
	for _, l := range lines {
		if k := key(l); k == "" || !placed[k] {
			placed[k] = true
			put(l)
		}
	}
	return out.Bytes()
}

// Same is the key of Merge that adds a line once: a line is its own key.
func Same(line []byte) string { return string(bytes.TrimSpace(line)) }
