package gitops

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// TreeFS returns a read-only fs.FS over the tree of the commit that rev
// names (a branch, tag, full or short hash, HEAD, HEAD~1 ...), and that
// commit's hash. Nothing is checked out: files are read from the object
// store, so spec.Load and policy.Load can read any revision. Symbolic
// links read as a checkout would: Open, Stat and ReadFile follow links to
// paths inside the tree (one that leaves it, dangles or loops does not
// exist); ReadDir, Lstat and ReadLink show the link itself. Submodules
// are empty directories.
func TreeFS(repo *git.Repository, rev string) (fs.FS, plumbing.Hash, error) {
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("resolve revision %q: %w", rev, err)
	}
	c, err := repo.CommitObject(*h)
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("read commit %s (%q): %w", h, rev, err)
	}
	t, err := c.Tree()
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("read tree of %s (%q): %w", h, rev, err)
	}
	return &treeFS{mu: new(sync.Mutex), root: t, modTime: c.Committer.When}, c.Hash, nil
}

// treeFS is an fs.FS over one Git tree. go-git trees cache lookups
// without locking, and read objects lazily from a storage that a fetch
// writes to, so every call holds mu: the Repo's own lock for Repo.TreeAt.
type treeFS struct {
	mu      sync.Locker
	root    *object.Tree
	modTime time.Time
}

var (
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
	_ fs.ReadLinkFS = (*treeFS)(nil)
)

// node is one entry of the tree: a file, a directory or a link.
type node struct {
	name  string
	entry object.TreeEntry
	size  int64
}

func (n node) isDir() bool {
	return n.entry.Mode == filemode.Dir || n.entry.Mode == filemode.Submodule
}

func (n node) mode() fs.FileMode {
	switch n.entry.Mode {
	case filemode.Dir, filemode.Submodule:
		return fs.ModeDir | 0o555
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	case filemode.Executable:
		return 0o555
	default:
		return 0o444
	}
}

// maxLinkHops bounds how many symbolic links a lookup follows, so that a
// link loop is an error rather than a hang.
const maxLinkHops = 40

// resolve is lookup following symbolic links, as a checkout would: a link
// to a path inside the tree reads as its target; a link that leaves the
// tree, dangles or loops does not exist. The node keeps the name asked for.
func (f *treeFS) resolve(op, name string) (node, error) {
	cur := name
	for hop := 0; ; hop++ {
		n, err := f.lookup(op, cur)
		if err != nil {
			if cur != name {
				return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
			}
			return node{}, err
		}
		if n.entry.Mode != filemode.Symlink {
			n.name = path.Base(name)
			return n, nil
		}
		if hop == maxLinkHops {
			return node{}, &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
		}
		target, err := f.contents(op, cur, n)
		if err != nil {
			return node{}, err
		}
		t := string(target)
		if path.IsAbs(t) {
			return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		cur = path.Join(path.Dir(cur), t)
		if cur == ".." || strings.HasPrefix(cur, "../") {
			return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
	}
}

func (f *treeFS) lookup(op, name string) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return node{name: ".", entry: object.TreeEntry{Name: ".", Mode: filemode.Dir, Hash: f.root.Hash}}, nil
	}
	e, err := f.root.FindEntry(name)
	if err != nil {
		if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
			return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		return node{}, &fs.PathError{Op: op, Path: name, Err: err}
	}
	n := node{name: path.Base(name), entry: *e}
	if !n.isDir() {
		sz, err := f.root.Size(name)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		n.size = sz
	}
	return n, nil
}

func (f *treeFS) tree(op, name string, n node) (*object.Tree, error) {
	if name == "." {
		return f.root, nil
	}
	if n.entry.Mode == filemode.Submodule {
		return &object.Tree{}, nil
	}
	t, err := f.root.Tree(name)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return t, nil
}

// Stat implements fs.StatFS.
func (f *treeFS) Stat(name string) (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("stat", name)
	if err != nil {
		return nil, err
	}
	return info{n: n, modTime: f.modTime}, nil
}

// Lstat implements fs.ReadLinkFS: Stat without following a final link.
func (f *treeFS) Lstat(name string) (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return info{n: n, modTime: f.modTime}, nil
}

// ReadLink implements fs.ReadLinkFS: the target a link names.
func (f *treeFS) ReadLink(name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if n.entry.Mode != filemode.Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	b, err := f.contents("readlink", name, n)
	return string(b), err
}

// ReadFile implements fs.ReadFileFS.
func (f *treeFS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("read", name)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	return f.contents("read", name, n)
}

func (f *treeFS) contents(op, name string, n node) ([]byte, error) {
	file, err := f.root.TreeEntryFile(&n.entry)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	r, err := file.Reader()
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return b, nil
}

// ReadDir implements fs.ReadDirFS: the entries of a directory, by name.
func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readDir(name)
}

func (f *treeFS) readDir(name string) ([]fs.DirEntry, error) {
	n, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	t, err := f.tree("readdir", name, n)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(t.Entries))
	for _, e := range t.Entries {
		c := node{name: e.Name, entry: e}
		if !c.isDir() {
			child := e.Name
			if name != "." {
				child = name + "/" + e.Name
			}
			if c.size, err = f.root.Size(child); err != nil {
				return nil, &fs.PathError{Op: "readdir", Path: child, Err: err}
			}
		}
		out = append(out, fs.FileInfoToDirEntry(info{n: c, modTime: f.modTime}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// Open implements fs.FS.
func (f *treeFS) Open(name string) (fs.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("open", name)
	if err != nil {
		return nil, err
	}
	fi := info{n: n, modTime: f.modTime}
	if n.isDir() {
		entries, err := f.readDir(name)
		if err != nil {
			return nil, err
		}
		return &dirFile{info: fi, entries: entries}, nil
	}
	b, err := f.contents("open", name, n)
	if err != nil {
		return nil, err
	}
	return &openFile{info: fi, data: b}, nil
}

// info is the fs.FileInfo of a node.
type info struct {
	n       node
	modTime time.Time
}

func (i info) Name() string       { return i.n.name }
func (i info) Size() int64        { return i.n.size }
func (i info) Mode() fs.FileMode  { return i.n.mode() }
func (i info) ModTime() time.Time { return i.modTime }
func (i info) IsDir() bool        { return i.n.isDir() }
func (i info) Sys() any           { return i.n.entry.Hash }

// openFile is an open regular file (or link), read from memory.
type openFile struct {
	info   info
	data   []byte
	off    int
	closed bool
}

func (f *openFile) Stat() (fs.FileInfo, error) { return f.info, nil }

func (f *openFile) Read(p []byte) (int, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "read", Path: f.info.Name(), Err: fs.ErrClosed}
	}
	if f.off >= len(f.data) {
		return 0, io.EOF
	}
	n := copy(p, f.data[f.off:])
	f.off += n
	return n, nil
}

func (f *openFile) Close() error {
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.info.Name(), Err: fs.ErrClosed}
	}
	f.closed = true
	return nil
}

// dirFile is an open directory.
type dirFile struct {
	info    info
	entries []fs.DirEntry
	off     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }

func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: errors.New("is a directory")}
}

func (d *dirFile) Close() error { return nil }

// ReadDir implements fs.ReadDirFile.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return rest[:n], nil
}
