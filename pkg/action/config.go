// Package action is Switchyard's GitHub Action: for a pull request it
// validates the head's specs, judges them with the base branch's policies
// and offline validation, and reports a sticky plan comment, annotations,
// a job summary and outputs; for a push to the default branch it records a
// deployment per changed model and stage; for a workflow_dispatch with
// `rollback` it opens a revert pull request.
package action

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/notes/ghnotes"
	"github.com/switchyard-dev/switchyard/pkg/offline"
)

// Exit codes, as the reconciler's (SPEC.md §3).
const (
	ExitOK          = 0
	ExitFailed      = 1 // invalid spec, policy denial, failed validation (or a warning with FailOnWarn)
	ExitEnvironment = 2 // malformed event, missing token, shallow checkout, broken base policies...
)

// Config is everything the action reads from its environment, gathered by
// cmd/gh-action. Library code never reads the environment itself.
type Config struct {
	EventName   string // GITHUB_EVENT_NAME
	EventPath   string // GITHUB_EVENT_PATH
	Workspace   string // GITHUB_WORKSPACE: the checked-out repository
	Repository  string // GITHUB_REPOSITORY: owner/name
	APIURL      string // GITHUB_API_URL (https://api.github.com, or GHES's https://HOST/api/v3)
	ServerURL   string // GITHUB_SERVER_URL, for links (optional)
	RunID       string // GITHUB_RUN_ID, for links (optional)
	SummaryPath string // GITHUB_STEP_SUMMARY (optional)
	OutputPath  string // GITHUB_OUTPUT (optional)
	Token       string // the github-token input
	TempDir     string // RUNNER_TEMP: scratch space (default os.TempDir())

	Path              string // spec directory in the repository (default "rollouts")
	Policies          string // policy directory in the repository (default "policies")
	Comment           bool   // post the sticky plan comment
	OfflineValidation bool   // run offline validation of promoted and added versions
	FailOnWarn        bool   // exit 1 on policy warnings too
	// RecordVerdicts attaches the offline validation verdicts as notes
	// under refs/notes/switchyard to the commit judged (the pull request's
	// head, or the pushed commit), through the Git Data API.
	RecordVerdicts bool

	// ValidationConcurrency bounds the versions validated at once and the
	// requests in flight per version (default 8 each); ValidationTimeout
	// is the per-request timeout (default 10s).
	ValidationConcurrency int
	ValidationTimeout     time.Duration

	Stdout io.Writer // workflow commands and progress
	Stderr io.Writer // errors

	// HTTPClient talks to the GitHub API (default http.DefaultClient);
	// ModelClient to the model servers for offline validation.
	HTTPClient  *http.Client
	ModelClient offline.Doer
	// GitHub overrides the API client built from APIURL, Token and
	// HTTPClient (tests use the real one against an httptest server).
	GitHub GitHub
	Now    func() time.Time
}

func (c *Config) defaults() {
	if c.Path == "" {
		c.Path = "rollouts"
	}
	if c.Policies == "" {
		c.Policies = "policies"
	}
	if c.APIURL == "" {
		c.APIURL = "https://api.github.com"
	}
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	if c.Stderr == nil {
		c.Stderr = io.Discard
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	if c.ModelClient == nil {
		c.ModelClient = c.HTTPClient
	}
	if c.ValidationConcurrency <= 0 {
		c.ValidationConcurrency = offline.DefaultConcurrency
	}
	if c.ValidationTimeout <= 0 {
		c.ValidationTimeout = offline.DefaultTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// envError is a problem with the environment the action runs in (exit 2).
type envError struct{ msg string }

func (e *envError) Error() string { return e.msg }

func envErrorf(format string, args ...any) error { return &envError{fmt.Sprintf(format, args...)} }

// Run carries out the action for the event in cfg and returns the exit code.
func Run(ctx context.Context, cfg Config) int {
	cfg.defaults()
	code, err := run(ctx, &cfg)
	if err != nil {
		fmt.Fprintf(cfg.Stderr, "switchyard: %v\n", err)
		// A workflow-command error makes the message visible in the run's UI.
		fmt.Fprintf(cfg.Stdout, "::error title=switchyard::%s\n", escapeData(err.Error()))
	}
	return code
}

func run(ctx context.Context, cfg *Config) (int, error) {
	ev, err := readEvent(cfg.EventName, cfg.EventPath)
	if err != nil {
		return ExitEnvironment, err
	}
	owner, repo, err := splitRepo(cfg.Repository, ev)
	if err != nil {
		return ExitEnvironment, err
	}
	if cfg.Workspace == "" {
		return ExitEnvironment, envErrorf("GITHUB_WORKSPACE is not set: run the action in a job that checked out the repository (actions/checkout)")
	}
	if ev.skip != "" {
		fmt.Fprintf(cfg.Stdout, "switchyard: nothing to do: %s\n", ev.skip)
		return ExitOK, nil
	}
	if cfg.Token == "" {
		return ExitEnvironment, envErrorf("the github-token input is empty: pass `github-token: ${{ secrets.GITHUB_TOKEN }}` (or leave the input at its default)")
	}
	gh := cfg.GitHub
	if gh == nil {
		gh, err = NewGitHub(cfg.APIURL, cfg.Token, cfg.HTTPClient)
		if err != nil {
			return ExitEnvironment, err
		}
	}
	r := &runner{cfg: cfg, gh: gh, owner: owner, repo: repo, ev: ev}
	r.notes, _ = gh.(ghnotes.API)
	var code int
	switch {
	case ev.pr != nil:
		code, err = r.pullRequest(ctx)
	case ev.push != nil:
		code, err = r.push(ctx)
	case ev.dispatch != nil:
		code, err = r.dispatch(ctx)
	}
	if err != nil && code == ExitOK {
		code = ExitEnvironment
	}
	return code, err
}

// runner holds what every event handler needs.
type runner struct {
	cfg         *Config
	gh          GitHub
	owner, repo string
	ev          *event
	notes       ghnotes.API // nil: the client cannot write Git data
}
