package gitops

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// treeChange sets one path of a tree to a blob, or deletes it.
type treeChange struct {
	hash   plumbing.Hash
	mode   filemode.FileMode
	delete bool
}

// writeBlob stores content and returns its hash.
func (r *Repo) writeBlob(content []byte) (plumbing.Hash, error) {
	obj := r.repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write blob: %w", err)
	}
	if _, err := w.Write(content); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write blob: %w", err)
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write blob: %w", err)
	}
	h, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("store blob: %w", err)
	}
	return h, nil
}

// rewriteTree returns the hash of the tree root with changes (by
// slash-separated path) applied, writing every new tree object. A zero root
// is the empty tree. A subtree left empty is dropped.
func (r *Repo) rewriteTree(root plumbing.Hash, changes map[string]treeChange) (plumbing.Hash, error) {
	h, _, err := r.rewrite(root, changes, true)
	return h, err
}

func (r *Repo) rewrite(root plumbing.Hash, changes map[string]treeChange, isRoot bool) (plumbing.Hash, bool, error) {
	var entries []object.TreeEntry
	if !root.IsZero() {
		t, err := object.GetTree(r.repo.Storer, root)
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("read tree %s: %w", root, err)
		}
		entries = t.Entries
	}
	direct := map[string]treeChange{}
	sub := map[string]map[string]treeChange{}
	for p, ch := range changes {
		name, rest, nested := strings.Cut(p, "/")
		if !nested {
			direct[name] = ch
			continue
		}
		if sub[name] == nil {
			sub[name] = map[string]treeChange{}
		}
		sub[name][rest] = ch
	}
	out := make([]object.TreeEntry, 0, len(entries)+len(direct))
	for _, e := range entries {
		if ch, ok := direct[e.Name]; ok {
			delete(direct, e.Name)
			if !ch.delete {
				out = append(out, object.TreeEntry{Name: e.Name, Mode: ch.mode, Hash: ch.hash})
			}
			continue
		}
		if sc, ok := sub[e.Name]; ok && e.Mode == filemode.Dir {
			delete(sub, e.Name)
			h, empty, err := r.rewrite(e.Hash, sc, false)
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			if !empty {
				out = append(out, object.TreeEntry{Name: e.Name, Mode: filemode.Dir, Hash: h})
			}
			continue
		}
		out = append(out, e)
	}
	for name, ch := range direct {
		if !ch.delete {
			out = append(out, object.TreeEntry{Name: name, Mode: ch.mode, Hash: ch.hash})
		}
	}
	for name, sc := range sub {
		h, empty, err := r.rewrite(plumbing.ZeroHash, sc, false)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		if !empty {
			out = append(out, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
	}
	if len(out) == 0 && !isRoot {
		return plumbing.ZeroHash, true, nil
	}
	// Git orders entries by name, a directory's name compared as "name/".
	sortKey := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(out, func(i, j int) bool { return sortKey(out[i]) < sortKey(out[j]) })
	t := &object.Tree{Entries: out}
	obj := r.repo.Storer.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("encode tree: %w", err)
	}
	h, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("store tree: %w", err)
	}
	return h, false, nil
}

// writeCommit stores a commit of tree on parents, signed by the configured
// author at the injected clock's time.
func (r *Repo) writeCommit(tree plumbing.Hash, parents []plumbing.Hash, msg string) (plumbing.Hash, error) {
	sig := object.Signature{Name: r.opts.AuthorName, Email: r.opts.AuthorEmail, When: r.opts.Now()}
	c := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: tree, ParentHashes: parents}
	obj := r.repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode commit: %w", err)
	}
	h, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("store commit: %w", err)
	}
	return h, nil
}
