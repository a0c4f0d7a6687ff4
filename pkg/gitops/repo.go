// Package gitops keeps a local clone of the spec repository in step with
// its remote, reads its history, and writes the reconciler's outcomes back
// to it as commits (true reverts or minimal hclwrite edits) with verdict
// notes, pushed with retry or proposed as pull requests; it also knows those
// outcome commits again however they reached the branch (RecogniseOutcome).
package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/switchyard-dev/switchyard/pkg/notes"
	"github.com/switchyard-dev/switchyard/pkg/wait"
)

// Defaults for Options left empty.
const (
	DefaultBranch       = "main"
	DefaultAuthorName   = "Switchyard"
	DefaultAuthorEmail  = "switchyard@localhost"
	DefaultPushAttempts = 5
	DefaultBackoff      = 200 * time.Millisecond
	DefaultTimeout      = 60 * time.Second
	NotesRef            = notes.Ref
	remoteName          = "origin"
)

// Options says which repository to follow and how to write to it.
// Configuration comes from cmd: no environment variable is read here.
type Options struct {
	// URL is an https:// or http:// URL, an ssh URL (ssh://git@host/x.git
	// or git@host:x.git), or a local path. A local non-bare repository
	// refuses pushes to its checked-out branch unless it sets
	// receive.denyCurrentBranch=updateInstead.
	URL string
	// Branch followed and written to (default main).
	Branch string
	// Dir is the local clone's directory (a bare repository). An existing
	// clone there is reused.
	Dir string
	// Token for HTTPS: sent as the basic-auth password, with Username
	// (default "x-access-token", which GitHub accepts).
	Token    string
	Username string
	// SSHKeyFile is a private key for ssh URLs, with its passphrase if any;
	// KnownHostsFile checks host keys (default: the user's known_hosts).
	SSHKeyFile       string
	SSHKeyPassphrase string
	KnownHostsFile   string

	// AuthorName and AuthorEmail sign every commit written (author and
	// committer); default "Switchyard <switchyard@localhost>".
	AuthorName  string
	AuthorEmail string
	// Now is the clock for commit times (default time.Now).
	Now func() time.Time
	// Sleep waits between push attempts (default: a timer honouring ctx).
	Sleep func(ctx context.Context, d time.Duration) error
	// PushAttempts bounds attempts on non-fast-forward rejections
	// (default 5); Backoff is the first wait, doubled each time.
	PushAttempts int
	Backoff      time.Duration
	// Timeout bounds each fetch and push (default 60s), so that a hung
	// server cannot hold the clone forever.
	Timeout time.Duration
	// PullRequests, when set, makes outcomes go to a pull request on a new
	// branch instead of straight to Branch (`--push pr`).
	PullRequests PullRequestOpener
}

// Repo is a local clone following one branch of a remote. Its methods are
// safe for concurrent use; they run one at a time (a write waiting to push
// again does not hold the others up). It queues nothing: a write that
// fails returns its error, and the caller (the reconciler's daemon, which
// owns the one queue of outcomes and notes) retries it.
type Repo struct {
	opts Options
	auth transport.AuthMethod
	repo *git.Repository

	mu sync.Mutex
}

// Open clones opts.URL into opts.Dir (single branch, no tags, bare), or
// reuses the clone already there, and fetches the branch's head.
func Open(ctx context.Context, opts Options) (*Repo, error) {
	if opts.URL == "" {
		return nil, errors.New("open repository: no URL or path given")
	}
	if opts.Dir == "" {
		return nil, errors.New("open repository: no work directory given")
	}
	opts = withDefaults(opts)
	if isLocalPath(opts.URL) {
		abs, err := filepath.Abs(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("open repository %s: %w", opts.URL, err)
		}
		opts.URL = abs
	}
	auth, err := authFor(opts)
	if err != nil {
		return nil, err
	}
	r := &Repo{opts: opts, auth: auth}

	repo, err := git.PlainOpen(opts.Dir)
	switch {
	case err == nil:
		if err := ensureRemote(repo, opts); err != nil {
			return nil, err
		}
	case errors.Is(err, git.ErrRepositoryNotExists):
		_, statErr := os.Stat(opts.Dir)
		created := os.IsNotExist(statErr)
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("create work directory: %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 10*opts.Timeout) // a first clone may be large
		defer cancel()
		repo, err = git.PlainCloneContext(cctx, opts.Dir, true, &git.CloneOptions{
			URL:           opts.URL,
			Auth:          auth,
			RemoteName:    remoteName,
			ReferenceName: plumbing.NewBranchReferenceName(opts.Branch),
			SingleBranch:  true,
			Tags:          git.NoTags,
		})
		if err != nil {
			if created {
				_ = os.RemoveAll(opts.Dir) // never remove a directory we did not create
			}
			return nil, fmt.Errorf("clone %s (branch %s) into %s: %w", redact(opts.URL), opts.Branch, opts.Dir, err)
		}
	default:
		return nil, fmt.Errorf("open clone in %s: %w", opts.Dir, err)
	}
	r.repo = repo
	if _, _, err := r.Fetch(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func withDefaults(o Options) Options {
	if o.Branch == "" {
		o.Branch = DefaultBranch
	}
	if o.Username == "" {
		o.Username = "x-access-token"
	}
	if o.AuthorName == "" {
		o.AuthorName = DefaultAuthorName
	}
	if o.AuthorEmail == "" {
		o.AuthorEmail = DefaultAuthorEmail
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = wait.Sleep
	}
	if o.PushAttempts <= 0 {
		o.PushAttempts = DefaultPushAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

func isLocalPath(u string) bool {
	if strings.Contains(u, "://") {
		return false
	}
	// scp-like ssh: user@host:path (a colon before any slash)
	if i := strings.Index(u, ":"); i > 0 && !strings.Contains(u[:i], "/") {
		return false
	}
	return true
}

func isSSH(u string) bool {
	return strings.HasPrefix(u, "ssh://") || (!strings.Contains(u, "://") && !isLocalPath(u))
}

func authFor(o Options) (transport.AuthMethod, error) {
	switch {
	case isSSH(o.URL):
		if o.SSHKeyFile == "" {
			return nil, nil // the ssh agent, if any
		}
		user := "git"
		if ep, err := transport.NewEndpoint(o.URL); err == nil && ep.User != "" {
			user = ep.User
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, o.SSHKeyFile, o.SSHKeyPassphrase)
		if err != nil {
			return nil, fmt.Errorf("read ssh key %s: %w", o.SSHKeyFile, err)
		}
		if o.KnownHostsFile != "" {
			cb, err := gitssh.NewKnownHostsCallback(o.KnownHostsFile)
			if err != nil {
				return nil, fmt.Errorf("read known hosts %s: %w", o.KnownHostsFile, err)
			}
			keys.HostKeyCallback = cb
		}
		return keys, nil
	case o.Token != "" && !isLocalPath(o.URL):
		return &githttp.BasicAuth{Username: o.Username, Password: o.Token}, nil
	}
	return nil, nil
}

func ensureRemote(repo *git.Repository, o Options) error {
	want := &config.RemoteConfig{Name: remoteName, URLs: []string{o.URL}, Fetch: []config.RefSpec{branchSpec(o.Branch)}}
	rem, err := repo.Remote(remoteName)
	if err == nil && len(rem.Config().URLs) > 0 && rem.Config().URLs[0] == o.URL {
		return nil
	}
	if err == nil {
		if err := repo.DeleteRemote(remoteName); err != nil {
			return fmt.Errorf("reset remote of the clone in %s: %w", o.Dir, err)
		}
	}
	if _, err := repo.CreateRemote(want); err != nil {
		return fmt.Errorf("set remote of the clone in %s: %w", o.Dir, err)
	}
	return nil
}

func branchSpec(b string) config.RefSpec {
	return config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/%s/%s", b, remoteName, b))
}

// redact hides credentials embedded in a URL before it reaches a message.
func redact(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.Index(u[i+3:], "@"); j >= 0 && !strings.Contains(u[i+3:i+3+j], "/") {
			return u[:i+3] + "***@" + u[i+3+j+1:]
		}
	}
	return u
}

func (r *Repo) branchRef() plumbing.ReferenceName {
	return plumbing.NewBranchReferenceName(r.opts.Branch)
}

func (r *Repo) remoteRef() plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(remoteName, r.opts.Branch)
}

// Fetch fetches the branch (and the remote's notes) and resets the local
// branch to the remote head. It returns the head's sha and whether it
// changed. Outcomes not yet pushed stay queued (see Pending).
func (r *Repo) Fetch(ctx context.Context) (sha string, changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetch(ctx)
}

func (r *Repo) fetch(ctx context.Context) (string, bool, error) {
	before, _ := r.repo.Reference(r.branchRef(), true)
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	err := r.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RemoteURL:  r.opts.URL,
		RefSpecs:   []config.RefSpec{branchSpec(r.opts.Branch), "+refs/notes/*:refs/switchyard-remote/notes/*"},
		Auth:       r.auth,
		Tags:       git.NoTags,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return "", false, fmt.Errorf("failed to fetch %s from %s: %w", r.opts.Branch, redact(r.opts.URL), err)
	}
	remote, err := r.repo.Reference(r.remoteRef(), true)
	if err != nil {
		return "", false, fmt.Errorf("branch %s not found on %s: %w", r.opts.Branch, redact(r.opts.URL), err)
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(r.branchRef(), remote.Hash())); err != nil {
		return "", false, fmt.Errorf("reset %s to the remote head: %w", r.opts.Branch, err)
	}
	if err := r.repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, r.branchRef())); err != nil {
		return "", false, fmt.Errorf("point HEAD at %s: %w", r.opts.Branch, err)
	}
	changed := before == nil || before.Hash() != remote.Hash()
	return remote.Hash().String(), changed, nil
}

// Head returns the sha of the local branch's head.
func (r *Repo) Head() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, err := r.head()
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

func (r *Repo) head() (plumbing.Hash, error) {
	ref, err := r.repo.Reference(r.branchRef(), true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read head of %s: %w", r.opts.Branch, err)
	}
	return ref.Hash(), nil
}

// Branch is the branch followed.
func (r *Repo) Branch() string { return r.opts.Branch }

// Dir is the local clone's directory.
func (r *Repo) Dir() string { return r.opts.Dir }

// resolve turns a revision ("HEAD", a branch, a sha, "sha~1") into a commit.
func (r *Repo) resolve(rev string) (*object.Commit, error) {
	if rev == "" || rev == "HEAD" {
		rev = r.branchRef().String()
	}
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("resolve revision %q: %w", rev, err)
	}
	c, err := r.repo.CommitObject(*h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	return c, nil
}
