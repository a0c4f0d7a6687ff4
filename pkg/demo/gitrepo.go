package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// userRepo is the demo user's working clone of a bare "origin".
type userRepo struct {
	origin string // path of the bare repository
	dir    string // working clone
	repo   *git.Repository
	now    func() time.Time
}

// newUserRepo makes a bare origin under root and a working clone with
// files as its first commit on main, pushed.
func newUserRepo(ctx context.Context, root string, files map[string][]byte, now func() time.Time) (*userRepo, error) {
	origin := filepath.Join(root, "origin.git")
	if _, err := git.PlainInitWithOptions(origin, &git.PlainInitOptions{
		Bare: true, InitOptions: git.InitOptions{DefaultBranch: plumbing.Main},
	}); err != nil {
		return nil, fmt.Errorf("init origin: %w", err)
	}
	dir := filepath.Join(root, "work")
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.Main}})
	if err != nil {
		return nil, fmt.Errorf("init work tree: %w", err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{origin}}); err != nil {
		return nil, err
	}
	u := &userRepo{origin: origin, dir: dir, repo: repo, now: now}
	if _, err := u.commit(ctx, "Add the fraud model's rollout spec", files); err != nil {
		return nil, err
	}
	return u, nil
}

// commit writes files, commits them as the demo user and pushes.
func (u *userRepo) commit(ctx context.Context, msg string, files map[string][]byte) (string, error) {
	if err := u.pull(ctx); err != nil {
		return "", err
	}
	wt, err := u.repo.Worktree()
	if err != nil {
		return "", err
	}
	for name, data := range files {
		p := filepath.Join(u.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return "", err
		}
		if _, err := wt.Add(name); err != nil {
			return "", err
		}
	}
	sig := &object.Signature{Name: "Demo User", Email: "demo@example.invalid", When: u.now()}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	if err := u.repo.PushContext(ctx, &git.PushOptions{RemoteName: "origin",
		RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/main"}}); err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	return h.String(), nil
}

// pull fast-forwards the working clone to origin's main (the reconciler
// may have pushed a commit of its own).
func (u *userRepo) pull(ctx context.Context) error {
	wt, err := u.repo.Worktree()
	if err != nil {
		return err
	}
	err = wt.PullContext(ctx, &git.PullOptions{RemoteName: "origin", ReferenceName: plumbing.Main, SingleBranch: true})
	switch {
	case err == nil, err == git.NoErrAlreadyUpToDate:
		return nil
	case strings.Contains(err.Error(), "remote repository is empty"), strings.Contains(err.Error(), "reference not found"):
		return nil
	}
	return fmt.Errorf("pull: %w", err)
}

// read returns a file of the working clone after a pull.
func (u *userRepo) read(ctx context.Context, name string) ([]byte, error) {
	if err := u.pull(ctx); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(u.dir, filepath.FromSlash(name)))
}

// headMessage is origin's newest commit, as `git log -1` shows it.
func (u *userRepo) headMessage() (string, string, error) {
	origin, err := git.PlainOpen(u.origin)
	if err != nil {
		return "", "", err
	}
	ref, err := origin.Reference(plumbing.NewBranchReferenceName("main"), true)
	if err != nil {
		return "", "", err
	}
	c, err := origin.CommitObject(ref.Hash())
	if err != nil {
		return "", "", err
	}
	return c.Hash.String(), fmt.Sprintf("commit %s\nAuthor: %s <%s>\n\n%s", c.Hash, c.Author.Name, c.Author.Email, indent(c.Message)), nil
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "\n")
}
