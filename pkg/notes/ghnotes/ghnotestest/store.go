// Package ghnotestest is GitHub's Git Data API over a real go-git
// repository, for tests: refs, commits, trees and blobs written through it
// are Git objects that git, go-git and pkg/gitops can read back. It
// answers as GitHub does where a writer can go wrong (a missing ref or
// object, a non-fast-forward update, a ref that already exists, a token
// that may not write).
package ghnotestest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/switchyard-dev/switchyard/pkg/notes/ghnotes"
)

// Error is an API error with GitHub's status and message.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string   { return fmt.Sprintf("status %d: %s", e.Status, e.Message) }
func (e *Error) HTTPStatus() int { return e.Status }

func errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Store implements ghnotes.API on a repository. It is not safe for
// concurrent use: serve it from one goroutine or under a lock.
type Store struct {
	Repo *git.Repository
	// WriteStatus, when not 0, is what every write answers: 403 is a
	// read-only token (a pull request from a fork), 404 a token that cannot
	// see the repository's contents.
	WriteStatus int
	// BeforeRefWrite runs once, before the next ref update or creation is
	// applied: another writer getting there first.
	BeforeRefWrite func()
	// Now is the time of the commits Commit writes (default a fixed time).
	Now func() time.Time
	// Writes counts the writes that succeeded.
	Writes int
}

var _ ghnotes.API = (*Store)(nil)

// New returns a Store over repo.
func New(repo *git.Repository) *Store { return &Store{Repo: repo} }

func (s *Store) write() error {
	if s.WriteStatus != 0 {
		return errorf(s.WriteStatus, "Resource not accessible by integration")
	}
	return nil
}

func hash(sha string) (plumbing.Hash, bool) {
	if !plumbing.IsHash(sha) {
		return plumbing.ZeroHash, false
	}
	return plumbing.NewHash(sha), true
}

// GetRef implements ghnotes.API.
func (s *Store) GetRef(_ context.Context, _, _, ref string) (string, error) {
	r, err := s.Repo.Storer.Reference(plumbing.ReferenceName(ref))
	if err != nil {
		return "", errorf(404, "Not Found")
	}
	return r.Hash().String(), nil
}

// GetCommitTree implements ghnotes.API.
func (s *Store) GetCommitTree(_ context.Context, _, _, sha string) (string, error) {
	h, ok := hash(sha)
	if !ok {
		return "", errorf(404, "Not Found")
	}
	c, err := s.Repo.CommitObject(h)
	if err != nil {
		return "", errorf(404, "Not Found")
	}
	return c.TreeHash.String(), nil
}

// GetTree implements ghnotes.API.
func (s *Store) GetTree(_ context.Context, _, _, sha string) (ghnotes.Tree, error) {
	h, ok := hash(sha)
	if !ok {
		return ghnotes.Tree{}, errorf(404, "Not Found")
	}
	t, err := s.Repo.TreeObject(h)
	if err != nil {
		return ghnotes.Tree{}, errorf(404, "Not Found")
	}
	var out ghnotes.Tree
	for _, e := range t.Entries {
		te := ghnotes.TreeEntry{Path: e.Name, SHA: e.Hash.String(), Mode: ghnotes.ModeFile, Type: ghnotes.TypeBlob}
		if e.Mode == filemode.Dir {
			te.Mode, te.Type = ghnotes.ModeDir, ghnotes.TypeTree
		} else if e.Mode != filemode.Regular {
			te.Mode = fmt.Sprintf("%06o", uint32(e.Mode))
		}
		out.Entries = append(out.Entries, te)
	}
	return out, nil
}

// GetBlob implements ghnotes.API.
func (s *Store) GetBlob(_ context.Context, _, _, sha string) ([]byte, error) {
	h, ok := hash(sha)
	if !ok {
		return nil, errorf(404, "Not Found")
	}
	b, err := s.Repo.BlobObject(h)
	if err != nil {
		return nil, errorf(404, "Not Found")
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// CreateBlob implements ghnotes.API.
func (s *Store) CreateBlob(_ context.Context, _, _ string, content []byte) (string, error) {
	if err := s.write(); err != nil {
		return "", err
	}
	h, err := s.blob(content)
	if err != nil {
		return "", err
	}
	s.Writes++
	return h.String(), nil
}

func (s *Store) blob(content []byte) (plumbing.Hash, error) {
	o := s.Repo.Storer.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	w, err := o.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.Repo.Storer.SetEncodedObject(o)
}

func (s *Store) store(o interface {
	Encode(plumbing.EncodedObject) error
}) (plumbing.Hash, error) {
	eo := s.Repo.Storer.NewEncodedObject()
	if err := o.Encode(eo); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.Repo.Storer.SetEncodedObject(eo)
}

// CreateTree implements ghnotes.API: like GitHub, entries are blobs that
// exist (mode 100644), paths may be nested, and base, when given, must be
// a tree.
func (s *Store) CreateTree(_ context.Context, _, _, base string, entries []ghnotes.TreeEntry) (string, error) {
	if err := s.write(); err != nil {
		return "", err
	}
	root := plumbing.ZeroHash
	if base != "" {
		h, ok := hash(base)
		if _, err := s.Repo.TreeObject(h); !ok || err != nil {
			return "", errorf(422, "Invalid tree info: base_tree %s is not a tree", base)
		}
		root = h
	}
	if len(entries) == 0 {
		return "", errorf(422, "Invalid tree info: no entries")
	}
	for _, e := range entries {
		h, ok := hash(e.SHA)
		if _, err := s.Repo.BlobObject(h); !ok || err != nil || e.Mode != ghnotes.ModeFile || e.Type != ghnotes.TypeBlob {
			return "", errorf(422, "Invalid tree info: entry %+v", e)
		}
		parts := strings.Split(e.Path, "/")
		for _, p := range parts {
			if p == "" || p == "." || p == ".." {
				return "", errorf(422, "Invalid tree info: path %q", e.Path)
			}
		}
		var err error
		if root, err = s.put(root, parts, h); err != nil {
			return "", err
		}
	}
	s.Writes++
	return root.String(), nil
}

// put writes tree with blob at path (creating directories) and returns the
// new tree.
func (s *Store) put(tree plumbing.Hash, path []string, blob plumbing.Hash) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !tree.IsZero() {
		t, err := s.Repo.TreeObject(tree)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, t.Entries...)
	}
	idx := -1
	for i, e := range entries {
		if e.Name == path[0] {
			idx = i
		}
	}
	entry := object.TreeEntry{Name: path[0], Mode: filemode.Regular, Hash: blob}
	if len(path) > 1 {
		sub := plumbing.ZeroHash
		if idx >= 0 {
			if entries[idx].Mode != filemode.Dir {
				return plumbing.ZeroHash, errorf(422, "Invalid tree info: %s is a file, not a directory", path[0])
			}
			sub = entries[idx].Hash
		}
		h, err := s.put(sub, path[1:], blob)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entry = object.TreeEntry{Name: path[0], Mode: filemode.Dir, Hash: h}
	}
	if idx >= 0 {
		entries[idx] = entry
	} else {
		entries = append(entries, entry)
	}
	// Git's order: by name, a directory as if its name ended with "/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	return s.store(&object.Tree{Entries: entries})
}

// CreateCommit implements ghnotes.API, as GitHub's bot would sign it.
func (s *Store) CreateCommit(_ context.Context, _, _, message, tree string, parents []string) (string, error) {
	if err := s.write(); err != nil {
		return "", err
	}
	th, ok := hash(tree)
	if _, err := s.Repo.TreeObject(th); !ok || err != nil {
		return "", errorf(422, "Tree SHA does not exist")
	}
	c := &object.Commit{Message: message, TreeHash: th, Author: s.sig(), Committer: s.sig()}
	for _, p := range parents {
		ph, ok := hash(p)
		if _, err := s.Repo.CommitObject(ph); !ok || err != nil {
			return "", errorf(422, "Parent SHA does not exist or is not a commit object")
		}
		c.ParentHashes = append(c.ParentHashes, ph)
	}
	h, err := s.store(c)
	if err != nil {
		return "", err
	}
	s.Writes++
	return h.String(), nil
}

func (s *Store) sig() object.Signature {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	if s.Now != nil {
		now = s.Now()
	}
	return object.Signature{Name: "github-actions[bot]", Email: "41898282+github-actions[bot]@users.noreply.github.com", When: now}
}

func (s *Store) beforeRefWrite() {
	if f := s.BeforeRefWrite; f != nil {
		s.BeforeRefWrite = nil
		f()
	}
}

// UpdateRef implements ghnotes.API: fast-forward only, as without force.
func (s *Store) UpdateRef(_ context.Context, _, _, ref, sha string) error {
	if err := s.write(); err != nil {
		return err
	}
	s.beforeRefWrite()
	cur, err := s.Repo.Storer.Reference(plumbing.ReferenceName(ref))
	if err != nil {
		return errorf(422, "Reference does not exist")
	}
	h, ok := hash(sha)
	c, err := s.Repo.CommitObject(h)
	if !ok || err != nil {
		return errorf(422, "Object does not exist")
	}
	if ff, err := s.descends(c, cur.Hash()); err != nil || !ff {
		return errorf(422, "Update is not a fast forward")
	}
	s.Writes++
	return s.Repo.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(ref), h))
}

// descends reports whether c is anc or has it in its history.
func (s *Store) descends(c *object.Commit, anc plumbing.Hash) (bool, error) {
	found := errors.New("found")
	iter := object.NewCommitPreorderIter(c, nil, nil)
	err := iter.ForEach(func(x *object.Commit) error {
		if x.Hash == anc {
			return found
		}
		return nil
	})
	if errors.Is(err, found) {
		return true, nil
	}
	return false, err
}

// CreateRef implements ghnotes.API.
func (s *Store) CreateRef(_ context.Context, _, _, ref, sha string) error {
	if err := s.write(); err != nil {
		return err
	}
	s.beforeRefWrite()
	if !strings.HasPrefix(ref, "refs/") || strings.Count(ref, "/") < 2 {
		return errorf(422, "Reference name is invalid")
	}
	if _, err := s.Repo.Storer.Reference(plumbing.ReferenceName(ref)); err == nil {
		return errorf(422, "Reference already exists")
	}
	h, ok := hash(sha)
	if _, err := s.Repo.CommitObject(h); !ok || err != nil {
		return errorf(422, "Object does not exist")
	}
	s.Writes++
	return s.Repo.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(ref), h))
}

// Commit writes, as another writer would, a commit on ref (created if
// need be) whose tree is the ref's with each path (a sha, or a fanout path
// "ab/cdef...") set to its content.
func (s *Store) Commit(ref string, notes map[string]string) (string, error) {
	root := plumbing.ZeroHash
	var parents []plumbing.Hash
	if r, err := s.Repo.Storer.Reference(plumbing.ReferenceName(ref)); err == nil {
		c, err := s.Repo.CommitObject(r.Hash())
		if err != nil {
			return "", err
		}
		root, parents = c.TreeHash, []plumbing.Hash{c.Hash}
	}
	paths := make([]string, 0, len(notes))
	for p := range notes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		b, err := s.blob([]byte(notes[p]))
		if err != nil {
			return "", err
		}
		if root, err = s.put(root, strings.Split(p, "/"), b); err != nil {
			return "", err
		}
	}
	sig := s.sig()
	sig.Name, sig.Email = "Switchyard", "switchyard@localhost"
	h, err := s.store(&object.Commit{Message: "Notes added by 'git notes add'\n", TreeHash: root, ParentHashes: parents, Author: sig, Committer: sig})
	if err != nil {
		return "", err
	}
	return h.String(), s.Repo.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(ref), h))
}

// Files returns every file of ref's tree by path, and the ref's commit.
func (s *Store) Files(ref string) (map[string]string, *object.Commit, error) {
	r, err := s.Repo.Storer.Reference(plumbing.ReferenceName(ref))
	if err != nil {
		return nil, nil, err
	}
	c, err := s.Repo.CommitObject(r.Hash())
	if err != nil {
		return nil, nil, err
	}
	t, err := c.Tree()
	if err != nil {
		return nil, nil, err
	}
	out := map[string]string{}
	err = t.Files().ForEach(func(f *object.File) error {
		content, err := f.Contents()
		out[f.Name] = content
		return err
	})
	return out, c, err
}

// Lines splits a note into its lines, without empty ones.
func Lines(note string) []string {
	var out []string
	for _, l := range strings.Split(note, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
