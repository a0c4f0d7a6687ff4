package gitops

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-github/v60/github"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
)

// PullRequest is a change proposed on Branch against Base.
type PullRequest struct {
	Branch string
	Base   string
	Title  string
	Body   string
}

// PullRequestOpener opens a pull request and returns its URL. GitHub
// implements it; tests use fakes.
type PullRequestOpener interface {
	OpenPullRequest(ctx context.Context, pr PullRequest) (string, error)
}

// flushPR pushes each outcome's commit to its own branch
// `switchyard/<action>-<model>-<stage>-<short sha of the base head>` and
// opens a pull request for it (or finds the one already open for that
// branch). The caller holds r.mu.
func (r *Repo) flushPR(ctx context.Context, outcomes []Outcome) (map[string]result, error) {
	res := map[string]result{}
	_, tip, err := r.fetchTip(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to push to remote: %w", err)
	}
	for _, o := range outcomes {
		w, c, err := r.apply(ctx, tip, o)
		if err == nil && c != nil {
			// Named after the head it applies to, so that a retry on the
			// same head reuses the branch and its pull request.
			branch := fmt.Sprintf("switchyard/%s-%s-%s-%s", o.Action, o.Model, o.Stage, commitid.Short(tip.Hash.String()))
			ref := plumbing.NewBranchReferenceName(branch)
			if err := r.repo.Storer.SetReference(plumbing.NewHashReference(ref, c.Hash)); err != nil {
				return nil, fmt.Errorf("create branch %s: %w", branch, err)
			}
			if err := r.push(ctx, []config.RefSpec{config.RefSpec("+" + ref + ":" + ref)}); err != nil {
				return nil, fmt.Errorf("failed to push to remote: branch %s: %w", branch, err)
			}
			titleLine, body := pullRequestText(o, c.Message)
			url, err := r.opts.PullRequests.OpenPullRequest(ctx, PullRequest{
				Branch: branch, Base: r.opts.Branch, Title: titleLine, Body: body,
			})
			if err != nil {
				return nil, fmt.Errorf("open pull request from %s: %w", branch, err)
			}
			w.PullRequest = url
		}
		res[o.Key()] = result{w, err}
	}
	return res, nil
}

// pullRequestText is the title and description of the pull request that
// proposes the outcome commit with message msg: the commit's title, and
// its body with a paragraph on merging it before the trailers, which stay
// last. GitHub's squash message is the commit's message for a one-commit
// pull request, or the pull request's title and description when the
// repository says so: either way the squash commit ends with the trailers,
// and the reconciler knows it as its own (RecogniseOutcome).
func pullRequestText(o Outcome, msg string) (title, body string) {
	title, rest, _ := strings.Cut(strings.TrimSpace(msg), "\n\n")
	var trailers string
	if i := strings.LastIndex(rest, "\n\n"); i >= 0 && len(Trailers(rest)) > 0 {
		rest, trailers = rest[:i], rest[i+2:]
	}
	note := fmt.Sprintf("Traffic for %s is already where this commit puts it: until it is merged, Git disagrees with what is live "+
		"(`GET /api/status` lists this pull request under `pending_pull_requests`). "+
		"Merge it as it is, by any merge method: the reconciler knows its own commit by its change, and judges the merged head with the "+
		"policy label `switchyard:%s`. A squash keeps the trailers below when its message is the commit's message (GitHub's default) "+
		"or this description. A pull request changed before it is merged is judged as a person's change, without that label.", o.Key(), o.Action)
	body = strings.TrimSpace(rest) + "\n\n" + note
	if trailers != "" {
		body += "\n\n" + trailers
	}
	return title, body + "\n"
}

// GitHub opens pull requests on one GitHub repository through go-github.
type GitHub struct {
	client      *github.Client
	owner, repo string
}

var _ PullRequestOpener = (*GitHub)(nil)

// NewGitHub returns a GitHub client for owner/repo authenticated with
// token. apiURL is empty for github.com, or a GitHub Enterprise (or test)
// API base URL. httpClient may be nil.
func NewGitHub(httpClient *http.Client, apiURL, token, owner, repo string) (*GitHub, error) {
	c, err := NewGitHubClient(httpClient, apiURL, token)
	if err != nil {
		return nil, err
	}
	return &GitHub{client: c, owner: owner, repo: repo}, nil
}

// NewGitHubClient is a go-github client authenticated with token (none
// when empty). apiURL is empty for github.com, or a GitHub Enterprise (or
// test) API base URL. httpClient may be nil.
func NewGitHubClient(httpClient *http.Client, apiURL, token string) (*github.Client, error) {
	c := github.NewClient(httpClient)
	if token != "" {
		c = c.WithAuthToken(token)
	}
	if apiURL != "" {
		var err error
		if c, err = c.WithEnterpriseURLs(apiURL, apiURL); err != nil {
			return nil, fmt.Errorf("GitHub API URL %q: %w", apiURL, err)
		}
	}
	return c, nil
}

// OpenPullRequest creates the pull request and returns its HTML URL. When
// one is already open from the same branch, it returns that one's URL.
func (g *GitHub) OpenPullRequest(ctx context.Context, pr PullRequest) (string, error) {
	created, _, err := g.client.PullRequests.Create(ctx, g.owner, g.repo, &github.NewPullRequest{
		Title: github.String(pr.Title),
		Head:  github.String(pr.Branch),
		Base:  github.String(pr.Base),
		Body:  github.String(pr.Body),
	})
	if err == nil {
		return created.GetHTMLURL(), nil
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusUnprocessableEntity {
		open, _, lerr := g.client.PullRequests.List(ctx, g.owner, g.repo, &github.PullRequestListOptions{
			State: "open", Head: g.owner + ":" + pr.Branch, Base: pr.Base,
		})
		if lerr == nil && len(open) > 0 {
			return open[0].GetHTMLURL(), nil
		}
	}
	return "", fmt.Errorf("create pull request on %s/%s from %s: %w", g.owner, g.repo, pr.Branch, err)
}

var githubRepoRE = regexp.MustCompile(`^(?:https?://(?:[^@/]+@)?github\.com/|ssh://git@github\.com/|git@github\.com:)([^/]+)/([^/]+?)(?:\.git)?/?$`)

// ParseGitHubRepo extracts owner and repository from a github.com clone
// URL (https, ssh or scp-like).
func ParseGitHubRepo(url string) (owner, repo string, ok bool) {
	m := githubRepoRE.FindStringSubmatch(url)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}
