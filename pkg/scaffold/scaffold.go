// Package scaffold writes a starting Switchyard repository: an example model
// with a canary and checks, the default policies with their tests, a small
// dataset for offline validation and a GitHub workflow that runs the action.
package scaffold

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"
)

//go:embed all:template
var template embed.FS

// File is one file of the starting repository.
type File struct {
	Path string // slash-separated, relative to the repository root
	Data []byte
	Mode fs.FileMode
}

// Files returns every file of the starting repository, sorted by path: the
// template and, under policies/, each file of pol (the default policies and
// their Rego tests).
func Files(pol fs.FS) ([]File, error) {
	var out []File
	sub, err := fs.Sub(template, "template")
	if err != nil {
		return nil, err
	}
	if err := collect(sub, "", &out); err != nil {
		return nil, err
	}
	if err := collect(pol, "policies", &out); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func collect(fsys fs.FS, prefix string, out *[]File) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		*out = append(*out, File{Path: path.Join(prefix, p), Data: b, Mode: 0o644})
		return nil
	})
}

// ExistsError lists the files Write would have overwritten.
type ExistsError struct{ Paths []string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%d file(s) exist and would be overwritten", len(e.Paths))
}

// Existing returns the paths of files that already exist under dir.
func Existing(dir string, files []File) ([]string, error) {
	var exist []string
	for _, f := range files {
		_, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f.Path)))
		switch {
		case err == nil:
			exist = append(exist, f.Path)
		case errors.Is(err, syscall.ENOTDIR):
			return nil, blockingFile(dir, f.Path)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	return exist, nil
}

// blockingFile names the file that stands where p needs a directory.
func blockingFile(dir, p string) error {
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(d))); err == nil && !fi.IsDir() {
			return fmt.Errorf("%s is a file, and %s needs a directory there", d, p)
		}
	}
	return fmt.Errorf("cannot write %s: a file stands where a directory is needed", p)
}

// Write writes files under dir, creating directories as needed. Unless force
// is set it writes nothing when any of them exists, and returns an
// *ExistsError naming them.
func Write(dir string, files []File, force bool) error {
	if !force {
		exist, err := Existing(dir, files)
		if err != nil {
			return err
		}
		if len(exist) > 0 {
			return &ExistsError{Paths: exist}
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			if errors.Is(err, syscall.ENOTDIR) {
				return blockingFile(dir, f.Path)
			}
			return err
		}
		if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
			return err
		}
	}
	return nil
}
