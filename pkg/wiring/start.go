// Package wiring builds a running reconciler from its options: it connects
// the Git repository, the spec loader and policies, the routers (starting
// in-process builtin routers), the metric sources and the state store to
// the reconcile loop. `reconciler run` and `reconciler demo` share it.
package wiring

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/admission"
	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/deployments"
	"github.com/switchyard-dev/switchyard/pkg/gitops"
	"github.com/switchyard-dev/switchyard/pkg/ha"
	"github.com/switchyard-dev/switchyard/pkg/notify"
	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/state"
)

// Options are `reconciler run`'s settings, already read from flags and
// the environment by cmd.
type Options struct {
	Repo     string // URL or local path
	Branch   string
	Path     string // spec directory in the repository
	Policies string // policy directory in the repository ("" or missing: none)
	// WorkDir holds the local clone (default: a directory beside State).
	WorkDir string
	// State is the state file (bbolt).
	State        string
	Listen       string // the reconciler's HTTP surface ("" for none)
	PollInterval time.Duration
	Tick         time.Duration
	Push         string // direct | pr
	Token        string // HTTPS token for the repository
	SSHKeyFile   string
	// WebhookSecret verifies GitHub push webhooks (empty: no webhook).
	WebhookSecret []byte
	// StatusToken, when set, is the bearer token every endpoint of the
	// HTTP surface but the webhook needs (--status-token-env).
	StatusToken string
	// GitHubAPI and GitHubToken are used with Push "pr", and to report
	// rollouts as GitHub deployment statuses.
	GitHubAPI   string
	GitHubToken string
	// GitHubDeployments reports rollouts as deployments of GitHubRepo
	// ("owner/name"; default: parsed from a github.com Repo URL) when
	// GitHubToken is set. StatusURL, when set, is linked from each status.
	GitHubDeployments bool
	GitHubRepo        string
	StatusURL         string
	Getenv            func(string) string
	Logger            *slog.Logger
	Clock             reconcile.Clock
	// Etcd, when set, makes this reconciler one of several replicas that
	// elect a leader and keep their state in etcd instead of State.
	Etcd *ha.Config
}

// Running is a started reconciler.
type Running struct {
	Daemon  *reconcile.Daemon
	Repo    *gitops.Repo
	Routers *Routers
	// Addr is the HTTP surface's address, when Listen was set.
	Addr string

	server    *http.Server
	store     *state.Store
	node      *ha.Node
	hook      http.Handler
	log       *slog.Logger
	clock     reconcile.Clock
	newDaemon func(store reconcile.Store, fence func(context.Context) error) (*reconcile.Daemon, error)
	once      sync.Once
	// stop ends the notification deliveries; done closes when they ended.
	stop context.CancelFunc
	done chan struct{}

	mu      sync.Mutex
	daemon  *reconcile.Daemon // the loop running now (nil: a standby)
	handler http.Handler      // its HTTP surface
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Start opens the repository, restores state and starts serving; call Run
// on the returned Daemon and Close when done.
func Start(ctx context.Context, o Options) (*Running, error) {
	if o.Clock == nil {
		o.Clock = wallClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.Path == "" {
		o.Path = spec.DefaultPath
	}
	if o.State == "" {
		return nil, errors.New("no state file given (--state)")
	}
	if o.WorkDir == "" {
		o.WorkDir = o.State + ".repo"
	}
	if err := os.MkdirAll(filepath.Dir(o.State), 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	gopts := gitops.Options{
		URL: o.Repo, Branch: o.Branch, Dir: o.WorkDir, Token: o.Token, SSHKeyFile: o.SSHKeyFile,
		Now: o.Clock.Now,
	}
	if o.Push == "pr" {
		owner, name, ok, err := githubRepo(o)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("--push pr needs a github.com repository URL, got %q: set --github-repo OWNER/NAME (and --github-api for GitHub Enterprise)", o.Repo)
		}
		gh, err := gitops.NewGitHub(&http.Client{Timeout: 30 * time.Second}, enterpriseAPI(o.GitHubAPI), o.GitHubToken, owner, name)
		if err != nil {
			return nil, err
		}
		gopts.PullRequests = gh
	}
	repo, err := gitops.Open(ctx, gopts)
	if err != nil {
		return nil, fmt.Errorf("opening the spec repository: %w", err)
	}
	reg := prometheus.NewRegistry()
	metrics := reconcile.NewMetrics(reg)
	routers := &Routers{Getenv: o.Getenv, Logger: o.Logger, Registerer: reg, Now: o.Clock.Now}
	run := &Running{Repo: repo, Routers: routers, log: o.Logger, clock: o.Clock, done: make(chan struct{})}
	sinks, err := githubSinks(o)
	if err != nil {
		return nil, err
	}
	notifier := notify.New(notify.Config{}, notify.Deps{
		HTTP: &http.Client{Timeout: 10 * time.Second}, Getenv: o.Getenv,
		Logger: o.Logger, Metrics: notify.NewMetrics(reg), Sinks: sinks,
	})
	measurer := &Measurer{Routers: routers, HTTP: &http.Client{Timeout: 10 * time.Second}, References: analysis.NewReferences()}
	run.newDaemon = func(store reconcile.Store, fence func(context.Context) error) (*reconcile.Daemon, error) {
		adapter := &repoAdapter{repo: repo, log: o.Logger}
		deps := reconcile.Deps{
			Repo:     adapter,
			Check:    admission.Checker(o.Path, o.Policies, repo, o.Clock),
			Routers:  routers,
			Measurer: measurer,
			Store:    store,
			Clock:    o.Clock,
			Logger:   o.Logger,
			Metrics:  metrics,
			Notifier: notifier,
		}
		if fence != nil {
			deps.Repo = fencedRepo{repoAdapter: adapter, fence: fence}
			deps.Routers = fencedRouters{inner: routers, fence: fence}
		}
		return reconcile.New(reconcile.Config{PollInterval: o.PollInterval, Tick: o.Tick}, deps)
	}
	if len(o.WebhookSecret) > 0 {
		run.hook = &gitops.WebhookHandler{Secret: o.WebhookSecret, Branch: repo.Branch(), Trigger: run.trigger}
	}
	if o.Etcd == nil {
		store, err := state.Open(o.State)
		if err != nil {
			return nil, fmt.Errorf("opening the state file: %w", err)
		}
		run.store = store
		d, err := run.newDaemon(store, nil)
		if err != nil {
			store.Close()
			return nil, err
		}
		run.Daemon = d
		run.setCurrent(d)
	} else {
		node, err := ha.Connect(*o.Etcd)
		if err != nil {
			return nil, err
		}
		run.node = node
	}
	nctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	run.stop = stop
	go func() { defer close(run.done); notifier.Run(nctx) }()
	if o.Listen != "" {
		ln, err := net.Listen("tcp", o.Listen)
		if err != nil {
			run.Close()
			return nil, fmt.Errorf("cannot listen on %s: %w", o.Listen, err)
		}
		run.Addr = ln.Addr().String()
		run.server = &http.Server{Handler: reconcile.RequireToken(o.StatusToken, run), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = run.server.Serve(ln) }()
	}
	return run, nil
}

// enterpriseAPI is the API URL go-github needs: "" for github.com itself.
func enterpriseAPI(api string) string {
	if strings.TrimSuffix(api, "/") == "https://api.github.com" {
		return ""
	}
	return api
}

// githubRepo is the GitHub repository of the pull requests and
// deployments: --github-repo, or the owner and name of a github.com
// --repo (ok is false when neither says).
func githubRepo(o Options) (owner, name string, ok bool, err error) {
	if o.GitHubRepo == "" {
		owner, name, ok = gitops.ParseGitHubRepo(o.Repo)
		return owner, name, ok, nil
	}
	owner, name, ok = strings.Cut(o.GitHubRepo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", false, fmt.Errorf("--github-repo %q: want OWNER/NAME", o.GitHubRepo)
	}
	return owner, name, true, nil
}

// githubSinks is the GitHub deployment reporter when the options ask for
// it and have a token (none otherwise).
func githubSinks(o Options) ([]notify.Sink, error) {
	if !o.GitHubDeployments || o.GitHubToken == "" {
		return nil, nil
	}
	owner, name, ok, err := githubRepo(o)
	if err != nil {
		return nil, err
	}
	if !ok {
		o.Logger.Info("rollouts are not reported as GitHub deployments: --repo is not a github.com URL (set --github-repo OWNER/NAME)")
		return nil, nil
	}
	gh, err := gitops.NewGitHubClient(&http.Client{Timeout: 30 * time.Second}, enterpriseAPI(o.GitHubAPI), o.GitHubToken)
	if err != nil {
		return nil, err
	}
	return []notify.Sink{deployments.New(gh, owner, name, o.StatusURL)}, nil
}

// Close stops the HTTP surface and the in-process routers and closes the
// state file.
func (r *Running) Close() {
	r.once.Do(func() {
		if r.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = r.server.Shutdown(ctx)
			cancel()
		}
		r.Routers.Close()
		if r.stop != nil {
			r.stop()
			<-r.done
		}
		if r.store != nil {
			_ = r.store.Close()
		}
		if r.node != nil {
			_ = r.node.Close()
		}
	})
}

// repackEvery is how many fetches that brought something new go by
// between two repacks: go-git slows as fetched packfiles pile up.
const repackEvery = 50

// repoAdapter gives the daemon the gitops repository.
var (
	_ reconcile.ActionReader        = (*repoAdapter)(nil)
	_ reconcile.PullRequestReporter = (*repoAdapter)(nil)
	_ reconcile.PullRequestCloser   = (*repoAdapter)(nil)
	_ reconcile.ActionReader        = fencedRepo{}
	_ reconcile.PullRequestReporter = fencedRepo{}
	_ reconcile.PullRequestCloser   = fencedRepo{}
)

type repoAdapter struct {
	repo    *gitops.Repo
	log     *slog.Logger
	fetched int // fetches that changed the head since the last repack

	mu  sync.Mutex
	prs map[string]reconcile.OpenedPullRequest // --push pr: by model key
}

func (a *repoAdapter) Fetch(ctx context.Context) (string, error) {
	sha, changed, err := a.repo.Fetch(ctx)
	if err == nil && changed {
		a.fetched++
		if a.fetched >= repackEvery {
			a.fetched = 0
			if err := a.repo.Repack(ctx); err != nil {
				a.log.Warn("repacking the local clone failed", "err", err)
			}
		}
	}
	return sha, err
}

func (a *repoAdapter) Tree(ctx context.Context, commit string) (fs.FS, error) {
	fsys, _, err := a.repo.TreeAt(commit)
	return fsys, err
}

func (a *repoAdapter) Write(ctx context.Context, o rollout.WriteCommit) (string, error) {
	w, err := a.repo.WriteOutcomeDetail(ctx, o)
	if err == nil && w.PullRequest != "" {
		a.mu.Lock()
		if a.prs == nil {
			a.prs = map[string]reconcile.OpenedPullRequest{}
		}
		a.prs[o.Key()] = reconcile.OpenedPullRequest{Action: string(o.Kind), Commit: w.SHA, URL: w.PullRequest, Created: w.PullRequestCreated}
		a.mu.Unlock()
	}
	return w.SHA, err
}

// CloseStalePullRequests closes, with --push pr, the outcome pull
// requests no model awaits any more (gitops.Repo.CloseStalePullRequests).
func (a *repoAdapter) CloseStalePullRequests(ctx context.Context, awaiting map[string]rollout.WriteCommit, why func(key string) string) ([]string, error) {
	return a.repo.CloseStalePullRequests(ctx, awaiting, why)
}

// OpenedPullRequests is, with --push pr, the last pull request opened for
// each model's outcome: the status lists those not merged yet.
func (a *repoAdapter) OpenedPullRequests() map[string]reconcile.OpenedPullRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.prs)
}

// CommitAction is the action of the reconciler's own outcome at commit
// (gitops.RecogniseOutcome: pushed by it, or its pull request merged in
// any way, unchanged): the daemon says loudly when one is rejected.
func (a *repoAdapter) CommitAction(ctx context.Context, commit string) (string, error) {
	own, _, err := a.repo.RecogniseOutcome(ctx, commit)
	if err != nil || own == nil {
		return "", err
	}
	return string(own.Action), nil
}

func (a *repoAdapter) Note(ctx context.Context, commit string, note []byte) error {
	return a.repo.AddNote(ctx, commit, note)
}

func (a *repoAdapter) NotesHead(ctx context.Context) (string, error) {
	return a.repo.NotesHead()
}

// FirstParentsBetween lets the daemon take, one at a time, the commits
// before a head it rejects (reconcile.CommitLister).
func (a *repoAdapter) FirstParentsBetween(ctx context.Context, from, to string) ([]string, error) {
	return a.repo.FirstParentsBetween(ctx, from, to)
}
