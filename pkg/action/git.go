package action

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
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
			return nil, envErrorf("the %s commit %s is not in the checkout%s: set fetch-depth: 0 on actions/checkout so that the action can compare the %s with the change", what, short(sha), shallow, what)
		}
		return nil, envErrorf("reading the %s commit %s: %v", what, short(sha), err)
	}
	return c, nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// treeFS is a read-only fs.FS over a commit's tree.
type treeFS struct {
	root *object.Tree
	when time.Time
}

// newTreeFS returns the file tree of commit c.
func newTreeFS(c *object.Commit) (fs.FS, error) {
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading the tree of %s: %w", short(c.Hash.String()), err)
	}
	return &treeFS{root: t, when: c.Committer.When}, nil
}

func (t *treeFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return &treeDir{fs: t, tree: t.root, name: "."}, nil
	}
	e, err := t.root.FindEntry(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if e.Mode == filemode.Dir {
		sub, err := t.root.Tree(name)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &treeDir{fs: t, tree: sub, name: path.Base(name)}, nil
	}
	if !e.Mode.IsFile() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := t.root.TreeEntryFile(e)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	r, err := f.Reader()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return &treeFile{Reader: bytes.NewReader(b), info: entryInfo{name: path.Base(name), size: int64(len(b)), mode: 0o644, when: t.when}}, nil
}

// ReadFile implements fs.ReadFileFS.
func (t *treeFS) ReadFile(name string) ([]byte, error) {
	f, err := t.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tf, ok := f.(*treeFile)
	if !ok {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	return io.ReadAll(tf)
}

type treeFile struct {
	*bytes.Reader
	info entryInfo
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *treeFile) Close() error               { return nil }

type treeDir struct {
	fs   *treeFS
	tree *object.Tree
	name string
	read int
}

func (d *treeDir) Stat() (fs.FileInfo, error) {
	return entryInfo{name: d.name, mode: fs.ModeDir | 0o755, when: d.fs.when}, nil
}
func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}
func (d *treeDir) Close() error { return nil }

// ReadDir implements fs.ReadDirFile; entries come in Git's (name) order.
func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.tree.Entries[d.read:]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && len(rest) > n {
		rest = rest[:n]
	}
	out := make([]fs.DirEntry, 0, len(rest))
	for _, e := range rest {
		info := entryInfo{name: e.Name, mode: 0o644, when: d.fs.when}
		switch {
		case e.Mode == filemode.Dir:
			info.mode = fs.ModeDir | 0o755
		case e.Mode == filemode.Symlink:
			info.mode = fs.ModeSymlink | 0o777
		case e.Mode == filemode.Submodule:
			info.mode = fs.ModeIrregular
		}
		out = append(out, fs.FileInfoToDirEntry(info))
	}
	d.read += len(rest)
	return out, nil
}

type entryInfo struct {
	name string
	size int64
	mode fs.FileMode
	when time.Time
}

func (i entryInfo) Name() string       { return i.name }
func (i entryInfo) Size() int64        { return i.size }
func (i entryInfo) Mode() fs.FileMode  { return i.mode }
func (i entryInfo) ModTime() time.Time { return i.when }
func (i entryInfo) IsDir() bool        { return i.mode.IsDir() }
func (i entryInfo) Sys() any           { return nil }

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

// isNotExist reports whether err says a path is missing.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || (err != nil && strings.Contains(err.Error(), "file does not exist"))
}
