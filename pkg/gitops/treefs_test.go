package gitops

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// commitFiles writes files (slash path -> content; nil deletes) into the
// worktree of repo at dir and commits them.
func commitFiles(t *testing.T, repo *git.Repository, dir string, files map[string]*string, msg string, when time.Time) plumbing.Hash {
	t.Helper()
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if body == nil {
			if _, err := wt.Remove(name); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(*body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	sig := &object.Signature{Name: "test", Email: "test@example.com", When: when}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func s(v string) *string { return &v }

func TestTreeFS(t *testing.T) {
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	first := commitFiles(t, repo, dir, map[string]*string{
		"README.md":              s("hello\n"),
		"rollouts/fraud.hcl":     s("serve = \"v6\"\n"),
		"rollouts/sub/churn.hcl": s("serve = \"c1\"\n"),
		"policies/canary.rego":   s("package switchyard\n"),
		"datasets/holdout.jsonl": s("{}\n"),
	}, "first", t0)
	if _, err := repo.CreateTag("v1", first, nil); err != nil {
		t.Fatal(err)
	}
	second := commitFiles(t, repo, dir, map[string]*string{
		"rollouts/fraud.hcl":     s("serve = \"v7\"\n"),
		"rollouts/sub/churn.hcl": nil,
	}, "second", t0.Add(time.Hour))

	tests := []struct {
		rev   string
		want  plumbing.Hash
		fraud string
		churn bool
	}{
		{"HEAD", second, "serve = \"v7\"\n", false},
		{"master", second, "serve = \"v7\"\n", false},
		{second.String(), second, "serve = \"v7\"\n", false},
		{"HEAD~1", first, "serve = \"v6\"\n", true},
		{"v1", first, "serve = \"v6\"\n", true},
		{first.String()[:10], first, "serve = \"v6\"\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.rev, func(t *testing.T) {
			fsys, h, err := TreeFS(repo, tt.rev)
			if err != nil {
				t.Fatal(err)
			}
			if h != tt.want {
				t.Errorf("hash %s, want %s", h, tt.want)
			}
			b, err := fs.ReadFile(fsys, "rollouts/fraud.hcl")
			if err != nil || string(b) != tt.fraud {
				t.Errorf("rollouts/fraud.hcl = %q, %v; want %q", b, err, tt.fraud)
			}
			_, err = fs.Stat(fsys, "rollouts/sub/churn.hcl")
			if got := err == nil; got != tt.churn {
				t.Errorf("churn.hcl exists = %v (%v), want %v", got, err, tt.churn)
			}
			expected := []string{"README.md", "rollouts/fraud.hcl", "policies/canary.rego", "datasets/holdout.jsonl"}
			if tt.churn {
				expected = append(expected, "rollouts/sub/churn.hcl")
			}
			if err := fstest.TestFS(fsys, expected...); err != nil {
				t.Error(err)
			}
		})
	}

	for _, rev := range []string{"nope", "HEAD~5", "0123456789abcdef0123456789abcdef01234567"} {
		if _, _, err := TreeFS(repo, rev); err == nil {
			t.Errorf("TreeFS(%q): no error", rev)
		}
	}

	// A symbolic link is committed as a link, never followed.
	if err := os.Symlink("fraud.hcl", filepath.Join(dir, "rollouts", "link.hcl")); err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add("rollouts/link.hcl"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "test", Email: "test@example.com", When: t0.Add(2 * time.Hour)}
	if _, err := wt.Commit("link", &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
		t.Fatal(err)
	}
	fsys, _, err := TreeFS(repo, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(fsys, "rollouts")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if e.Name() == "link.hcl" && e.Type() != fs.ModeSymlink {
			t.Errorf("link.hcl has type %v, want a symlink", e.Type())
		}
	}
	if got := strings.Join(names, ","); got != "fraud.hcl,link.hcl" {
		t.Errorf("rollouts holds %s", got)
	}
	if b, err := fs.ReadFile(fsys, "rollouts/link.hcl"); err != nil || string(b) != "serve = \"v7\"\n" {
		t.Errorf("link reads %q, %v; want the target's content", b, err)
	}
	if target, err := fs.ReadLink(fsys, "rollouts/link.hcl"); err != nil || target != "fraud.hcl" {
		t.Errorf("ReadLink = %q, %v", target, err)
	}
	if fi, err := fs.Lstat(fsys, "rollouts/link.hcl"); err != nil || fi.Mode().Type() != fs.ModeSymlink {
		t.Errorf("Lstat = %v, %v", fi, err)
	}
	if err := fstest.TestFS(fsys, "rollouts/link.hcl", "rollouts/fraud.hcl"); err != nil {
		t.Error(err)
	}
	// Links that loop, leave the tree or dangle do not exist.
	for name, target := range map[string]string{"loop.hcl": "loop.hcl", "out.hcl": "../../etc/passwd", "abs.hcl": "/etc/passwd", "dangling.hcl": "nope.hcl"} {
		if err := os.Symlink(target, filepath.Join(dir, "rollouts", name)); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add("rollouts/" + name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := wt.Commit("bad links", &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
		t.Fatal(err)
	}
	bad, _, err := TreeFS(repo, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"loop.hcl", "out.hcl", "abs.hcl", "dangling.hcl"} {
		if _, err := fs.ReadFile(bad, "rollouts/"+name); err == nil {
			t.Errorf("%s: read succeeded", name)
		}
	}
	if _, err := fs.ReadFile(fsys, "missing.hcl"); !errorsIsNotExist(err) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
	if _, err := fs.ReadFile(fsys, "../x"); err == nil {
		t.Error("invalid path accepted")
	}
	if _, err := fs.ReadFile(fsys, "rollouts"); err == nil {
		t.Error("ReadFile of a directory succeeded")
	}
	fi, err := fs.Stat(fsys, "rollouts/fraud.hcl")
	if err != nil || fi.Size() != int64(len("serve = \"v7\"\n")) || !fi.ModTime().Equal(t0.Add(2*time.Hour)) {
		t.Errorf("stat: %v %v", fi, err)
	}
}

func errorsIsNotExist(err error) bool { return err != nil && os.IsNotExist(err) }
