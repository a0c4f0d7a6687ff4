// Package ghnotes is the GitHub backend of package notes: it edits a Git
// note (a commit's entry under notes.Ref) through GitHub's Git Data API,
// for writers that have a token but no clone: it reads the notes ref, its commit and tree,
// replaces the blob at the note's path (keeping the tree's fanout layout
// and every other note), and moves the ref with a fast-forward, starting
// over when someone else moved it first.
package ghnotes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/notes"
	"github.com/switchyard-dev/switchyard/pkg/wait"
)

// Defaults of a Writer whose fields are zero.
const (
	DefaultRef      = notes.Ref
	DefaultAttempts = 5
	DefaultBackoff  = 250 * time.Millisecond
	DefaultMessage  = "Notes added by Switchyard\n"
)

// Tree entry modes and types, as the Git Data API spells them.
const (
	ModeFile = "100644"
	ModeDir  = "040000"
	TypeBlob = "blob"
	TypeTree = "tree"
)

// TreeEntry is one entry of a tree. Path is a name in a tree read, and may
// be a slash-separated path in a tree created over a base tree.
type TreeEntry struct {
	Path, Mode, Type, SHA string
}

// Tree is a tree as read (not recursively).
type Tree struct {
	Entries []TreeEntry
	// Truncated: GitHub left entries out (a tree over its size limit).
	Truncated bool
}

// API is what editing a note needs of GitHub's Git Data API. Errors that
// carry an HTTP status implement `HTTPStatus() int`.
type API interface {
	// GetRef returns the commit a ref points at (an error with status 404
	// when there is no such ref).
	GetRef(ctx context.Context, owner, repo, ref string) (string, error)
	// GetCommitTree returns the tree of a commit.
	GetCommitTree(ctx context.Context, owner, repo, sha string) (string, error)
	GetTree(ctx context.Context, owner, repo, sha string) (Tree, error)
	GetBlob(ctx context.Context, owner, repo, sha string) ([]byte, error)
	CreateBlob(ctx context.Context, owner, repo string, content []byte) (string, error)
	// CreateTree writes base with entries added or replaced (nested paths
	// allowed) and returns the new tree.
	CreateTree(ctx context.Context, owner, repo, base string, entries []TreeEntry) (string, error)
	CreateCommit(ctx context.Context, owner, repo, message, tree string, parents []string) (string, error)
	// UpdateRef moves an existing ref, fast-forward only (status 422
	// otherwise); CreateRef creates one (status 422 when it exists).
	UpdateRef(ctx context.Context, owner, repo, ref, sha string) error
	CreateRef(ctx context.Context, owner, repo, ref, sha string) error
}

// StatusOf is the HTTP status an API error carries, 0 when none.
func StatusOf(err error) int {
	var s interface{ HTTPStatus() int }
	if errors.As(err, &s) {
		return s.HTTPStatus()
	}
	return 0
}

// Writer edits notes of one repository. Fields left zero take the
// defaults above; Sleep defaults to a timer that honours ctx.
type Writer struct {
	API         API
	Owner, Repo string
	Ref         string // the notes ref (default refs/notes/switchyard)
	Message     string // of each notes commit
	// Attempts bounds the tries when the ref moves under the writer;
	// the first retry is at once, then Backoff, doubled each time.
	Attempts int
	Backoff  time.Duration
	Sleep    func(ctx context.Context, d time.Duration) error
}

// Result is what an Edit did.
type Result struct {
	Path      string // the note's path in the notes tree ("ab/cdef..." with fanout)
	Commit    string // the new notes commit, "" when unchanged
	Unchanged bool   // edit returned the note as it was: nothing written
	Attempts  int
}

// Edit replaces the note of target (a commit sha) with edit(old), where old
// is the note as it stands (nil when there is none), and records it under
// the notes ref in a new notes commit whose parent is the ref's commit. A
// ref moved by someone else meanwhile (a 422 or 409 on the ref update) makes
// it start over from the new ref, so edit may be called several times and
// must not assume it sees the note only once. Other errors end it: an error
// with status 403 or 404 on a write means the token may not write contents.
func (w *Writer) Edit(ctx context.Context, target string, edit func(old []byte) []byte) (Result, error) {
	name := strings.ToLower(target)
	if !isHex(name) || (len(name) != 40 && len(name) != 64) {
		return Result{}, fmt.Errorf("note of %q: not a full commit sha", target)
	}
	ref, attempts, backoff := w.Ref, w.Attempts, w.Backoff
	if ref == "" {
		ref = DefaultRef
	}
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	var last error
	for i := 1; i <= attempts; i++ {
		if i > 2 {
			if err := w.sleep(ctx, backoff); err != nil {
				return Result{Attempts: i - 1}, fmt.Errorf("note of %s: %w (after %v)", commitid.Short(name), err, last)
			}
			backoff *= 2
		}
		res, err := w.try(ctx, ref, name, edit)
		res.Attempts = i
		if err == nil {
			return res, nil
		}
		var moved *movedError
		if !errors.As(err, &moved) {
			return res, err
		}
		last = moved.err
	}
	return Result{Attempts: attempts}, fmt.Errorf("note of %s: %s kept moving under this writer, gave up after %d attempts: %w", commitid.Short(name), ref, attempts, last)
}

// movedError is a ref update that lost a race: start over.
type movedError struct{ err error }

func (e *movedError) Error() string { return e.err.Error() }
func (e *movedError) Unwrap() error { return e.err }

func (w *Writer) sleep(ctx context.Context, d time.Duration) error {
	if w.Sleep != nil {
		return w.Sleep(ctx, d)
	}
	return wait.Sleep(ctx, d)
}

// try reads the ref as it is now and writes one notes commit on top of it.
func (w *Writer) try(ctx context.Context, ref, name string, edit func([]byte) []byte) (Result, error) {
	head, err := w.API.GetRef(ctx, w.Owner, w.Repo, ref)
	exists := err == nil
	if err != nil && StatusOf(err) != 404 {
		return Result{}, fmt.Errorf("reading %s: %w", ref, err)
	}
	var baseTree string
	loc := location{path: name}
	if exists {
		if baseTree, err = w.API.GetCommitTree(ctx, w.Owner, w.Repo, head); err != nil {
			return Result{}, fmt.Errorf("reading the notes commit %s: %w", commitid.Short(head), err)
		}
		if loc, err = w.locate(ctx, baseTree, name); err != nil {
			return Result{}, err
		}
	}
	var old []byte
	if loc.blob != "" {
		if old, err = w.API.GetBlob(ctx, w.Owner, w.Repo, loc.blob); err != nil {
			return Result{Path: loc.path}, fmt.Errorf("reading the note of %s: %w", commitid.Short(name), err)
		}
	}
	content := edit(old)
	res := Result{Path: loc.path}
	if loc.blob != "" && bytes.Equal(content, old) {
		res.Unchanged = true
		return res, nil
	}
	blob, err := w.API.CreateBlob(ctx, w.Owner, w.Repo, content)
	if err != nil {
		return res, fmt.Errorf("writing the note of %s: %w", commitid.Short(name), err)
	}
	tree, err := w.API.CreateTree(ctx, w.Owner, w.Repo, baseTree, []TreeEntry{{Path: loc.path, Mode: ModeFile, Type: TypeBlob, SHA: blob}})
	if err != nil {
		return res, fmt.Errorf("writing the notes tree: %w", err)
	}
	var parents []string
	if exists {
		parents = []string{head}
	}
	msg := w.Message
	if msg == "" {
		msg = DefaultMessage
	}
	commit, err := w.API.CreateCommit(ctx, w.Owner, w.Repo, msg, tree, parents)
	if err != nil {
		return res, fmt.Errorf("writing the notes commit: %w", err)
	}
	if exists {
		err = w.API.UpdateRef(ctx, w.Owner, w.Repo, ref, commit)
	} else {
		err = w.API.CreateRef(ctx, w.Owner, w.Repo, ref, commit)
	}
	if err != nil {
		if s := StatusOf(err); s == 422 || s == 409 {
			return res, &movedError{fmt.Errorf("updating %s: %w", ref, err)}
		}
		return res, fmt.Errorf("updating %s: %w", ref, err)
	}
	res.Commit = commit
	return res, nil
}

// location is where a commit's note is, or goes, in a notes tree.
type location struct {
	path string
	blob string // the note's blob, "" when there is none yet
}

// locate finds name's note in the notes tree, flat ("abcd...") or under
// fanout directories ("ab/cd..." or "ab/cd/ef..."), as git notes writes
// them once a tree grows. A new note goes where the tree's layout puts
// notes: under the fanout directories the tree already uses, else flat.
func (w *Writer) locate(ctx context.Context, rootSHA, name string) (location, error) {
	root, err := w.API.GetTree(ctx, w.Owner, w.Repo, rootSHA)
	if err != nil {
		return location{}, fmt.Errorf("reading the notes tree %s: %w", commitid.Short(rootSHA), err)
	}
	if e, ok := find(root, name, TypeBlob); ok {
		return location{path: name, blob: e.SHA}, nil
	}
	dir, ok := find(root, name[:2], TypeTree)
	if !ok {
		if root.Truncated {
			return location{}, fmt.Errorf("the notes tree %s is too large for the API to list in full: the note of %s cannot be found in it", commitid.Short(rootSHA), commitid.Short(name))
		}
		if hasFanout(root) {
			return location{path: name[:2] + "/" + name[2:]}, nil
		}
		return location{path: name}, nil
	}
	sub, err := w.API.GetTree(ctx, w.Owner, w.Repo, dir.SHA)
	if err != nil {
		return location{}, fmt.Errorf("reading the notes tree %s/: %w", name[:2], err)
	}
	if e, ok := find(sub, name[2:], TypeBlob); ok {
		return location{path: name[:2] + "/" + name[2:], blob: e.SHA}, nil
	}
	deep := name[:2] + "/" + name[2:4] + "/" + name[4:]
	if dir2, ok := find(sub, name[2:4], TypeTree); ok {
		sub2, err := w.API.GetTree(ctx, w.Owner, w.Repo, dir2.SHA)
		if err != nil {
			return location{}, fmt.Errorf("reading the notes tree %s/%s/: %w", name[:2], name[2:4], err)
		}
		if e, ok := find(sub2, name[4:], TypeBlob); ok {
			return location{path: deep, blob: e.SHA}, nil
		}
		return location{path: deep}, nil
	}
	if hasFanout(sub) {
		return location{path: deep}, nil
	}
	return location{path: name[:2] + "/" + name[2:]}, nil
}

func find(t Tree, name, typ string) (TreeEntry, bool) {
	for _, e := range t.Entries {
		if e.Path == name && e.Type == typ {
			return e, true
		}
	}
	return TreeEntry{}, false
}

// hasFanout reports whether a notes tree holds fanout directories (two
// hex digits each).
func hasFanout(t Tree) bool {
	for _, e := range t.Entries {
		if e.Type == TypeTree && len(e.Path) == 2 && isHex(e.Path) {
			return true
		}
	}
	return false
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}
