package gitops

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-github/v60/github"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
)

// PullRequest is a change proposed on Branch against Base.
type PullRequest struct {
	Branch string
	Base   string
	Title  string
	Body   string
}

// Opened is a pull request opened (or found open) for an outcome.
type Opened struct {
	Number int
	URL    string
	// Created is when the pull request was opened (zero when the server
	// did not say).
	Created time.Time
}

// PullRequestOpener opens a pull request, or finds the one already open
// from the same branch. GitHub implements it; tests use fakes.
type PullRequestOpener interface {
	OpenPullRequest(ctx context.Context, pr PullRequest) (Opened, error)
}

// flushPR pushes each outcome's commit to its own branch and proposes it
// as a pull request. With a PullRequestKeeper (the reconciler's GitHub)
// the branch is the outcome's own (outcomeBranch), force-pushed on each
// new head, and the model keeps one outcome pull request open
// (proposeKept). Otherwise (the GitHub Action's one-shot rollback) it is
// `switchyard/<action>-<model>-<stage>-<short sha of the base head>`, so
// that a retry on the same head reuses the branch, and the pull request
// opened is the one open from that branch, if any. The caller holds r.mu.
func (r *Repo) flushPR(ctx context.Context, outcomes []rollout.WriteCommit) (map[string]result, error) {
	res := map[string]result{}
	_, tip, err := r.fetchTip(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to push to remote: %w", err)
	}
	for _, o := range outcomes {
		w, c, err := r.apply(ctx, tip, o)
		if err == nil && c != nil {
			if keeper, ok := r.opts.PullRequests.(PullRequestKeeper); ok {
				w, err = r.proposeKept(ctx, keeper, o, tip, c, w)
			} else {
				branch := fmt.Sprintf("switchyard/%s-%s-%s-%s", o.Kind, o.Model, o.Stage, commitid.Short(tip.Hash.String()))
				if c, err = r.pushProposal(ctx, branch, tip, c); err == nil {
					w.SHA = c.Hash.String()
					var opened Opened
					opened, err = r.opts.PullRequests.OpenPullRequest(ctx, pullRequestFor(o, branch, r.opts.Branch, c))
					if err != nil {
						err = fmt.Errorf("open pull request from %s: %w", branch, err)
					}
					w.PullRequest, w.PullRequestCreated = opened.URL, opened.Created
				}
			}
			if err != nil {
				return nil, err
			}
		}
		res[o.Key()] = result{w, err}
	}
	return res, nil
}

// proposeKept proposes o's commit c, written on tip, on the outcome's own
// branch, and keeps one pull request open for the model
// (keepOnePullRequest). A branch someone else pushed to (a person's
// commit on it) is theirs while its pull request is open: it is left as
// it is, and that pull request is the outcome's.
func (r *Repo) proposeKept(ctx context.Context, k PullRequestKeeper, o rollout.WriteCommit, tip, c *object.Commit, w Written) (Written, error) {
	branch := outcomeBranch(o)
	if head := r.fetchBranch(ctx, plumbing.NewBranchReferenceName(branch)); head != nil && !r.wroteIt(head) {
		prs, err := k.PullRequestsFrom(ctx, branch)
		if err != nil {
			return w, fmt.Errorf("open pull request from %s: %w", branch, err)
		}
		if len(prs) > 0 && prs[0].Open {
			w.SHA, w.Revert = head.Hash.String(), false
			w.PullRequest, w.PullRequestCreated = prs[0].URL, prs[0].Created
			return w, nil
		}
	}
	c, err := r.pushProposal(ctx, branch, tip, c)
	if err != nil {
		return w, err
	}
	w.SHA = c.Hash.String()
	opened, err := keepOnePullRequest(ctx, k, o, pullRequestFor(o, branch, r.opts.Branch, c))
	if err != nil {
		return w, fmt.Errorf("open pull request from %s: %w", branch, err)
	}
	w.PullRequest, w.PullRequestCreated = opened.URL, opened.Created
	return w, nil
}

// pushProposal force-pushes c to branch and returns the commit pushed: the
// one branch already holds when it is c written earlier on the same tip
// (a retry keeps the pull request's head and its reviews as they are).
func (r *Repo) pushProposal(ctx context.Context, branch string, tip, c *object.Commit) (*object.Commit, error) {
	ref := plumbing.NewBranchReferenceName(branch)
	if prev := r.samePullRequestCommit(ref, tip, c); prev != nil {
		c = prev
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(ref, c.Hash)); err != nil {
		return nil, fmt.Errorf("create branch %s: %w", branch, err)
	}
	if err := r.push(ctx, []config.RefSpec{config.RefSpec("+" + ref + ":" + ref)}); err != nil {
		return nil, fmt.Errorf("failed to push to remote: branch %s: %w", branch, err)
	}
	return c, nil
}

// pullRequestFor is the pull request proposing o's commit c from branch
// against base.
func pullRequestFor(o rollout.WriteCommit, branch, base string, c *object.Commit) PullRequest {
	title, body := pullRequestText(o, c.Message)
	return PullRequest{Branch: branch, Base: base, Title: title, Body: body}
}

// fetchBranch sets branch ref here to the remote's, and returns its
// commit: nil when the remote has no such branch (then the ref here, if
// any, is pushed as it is).
func (r *Repo) fetchBranch(ctx context.Context, ref plumbing.ReferenceName) *object.Commit {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	err := r.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName, RemoteURL: r.opts.URL, Auth: r.auth, Tags: git.NoTags, Force: true,
		RefSpecs: []config.RefSpec{config.RefSpec("+" + ref + ":" + ref)},
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	h, err := r.repo.Reference(ref, true)
	if err != nil {
		return nil
	}
	c, err := r.repo.CommitObject(h.Hash())
	if err != nil {
		return nil
	}
	return c
}

// wroteIt says whether c is a commit this reconciler writes: committed
// with its identity.
func (r *Repo) wroteIt(c *object.Commit) bool {
	return c.Committer.Email == r.opts.AuthorEmail && c.Author.Email == r.opts.AuthorEmail
}

// samePullRequestCommit is the commit branch ref already holds when it is
// c written earlier: the same message and tree, on the same tip.
func (r *Repo) samePullRequestCommit(ref plumbing.ReferenceName, tip, c *object.Commit) *object.Commit {
	prev, err := r.repo.Reference(ref, true)
	if err != nil {
		return nil
	}
	pc, err := r.repo.CommitObject(prev.Hash())
	if err != nil || pc.TreeHash != c.TreeHash || pc.Message != c.Message ||
		len(pc.ParentHashes) != 1 || pc.ParentHashes[0] != tip.Hash {
		return nil
	}
	return pc
}

// pullRequestText is the title and description of the pull request that
// proposes the outcome commit with message msg: the commit's title, and
// its body with a paragraph on merging it before the trailers, which stay
// last. GitHub's squash message is the commit's message for a one-commit
// pull request, or the pull request's title and description when the
// repository says so: either way the squash commit ends with the trailers,
// and it is known as the outcome it is (RecogniseOutcome).
func pullRequestText(o rollout.WriteCommit, msg string) (title, body string) {
	title, rest, _ := strings.Cut(strings.TrimSpace(msg), "\n\n")
	return title, WithParagraph(rest, fmt.Sprintf("Merge it as it is, by any merge method: the reconciler knows an outcome commit by its change, "+
		"and judges the merged head with the policy label `switchyard:%s`. A squash keeps the trailers below when its message is "+
		"the commit's message (GitHub's default) or this description. A pull request changed before it is merged is judged as "+
		"a person's change, without that label.", o.Kind))
}

// WithParagraph adds paragraph p to a commit message or pull request
// description, before its trailers when it ends with some, so that they
// stay last.
func WithParagraph(body, p string) string {
	body = strings.TrimSpace(body)
	var trailers string
	if i := strings.LastIndex(body, "\n\n"); i >= 0 && len(Trailers(body)) > 0 {
		body, trailers = strings.TrimSpace(body[:i]), body[i+2:]
	}
	out := body + "\n\n" + strings.TrimSpace(p)
	if body == "" {
		out = strings.TrimSpace(p)
	}
	if trailers != "" {
		out += "\n\n" + trailers
	}
	return out + "\n"
}

// reconcilerNote opens the description of the reconciler's own pull
// requests: what holds while one stays open.
const reconcilerNote = "Traffic is already where this commit puts it: until it is merged, Git disagrees with what is live. " +
	"`GET /api/status` on the reconciler lists this pull request, with its age, under `pending_pull_requests`."

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

// OpenPullRequest creates the pull request and returns its HTML URL and
// creation time. When one is already open from the same branch, it returns
// that one.
func (g *GitHub) OpenPullRequest(ctx context.Context, pr PullRequest) (Opened, error) {
	created, _, err := g.client.PullRequests.Create(ctx, g.owner, g.repo, &github.NewPullRequest{
		Title: github.String(pr.Title),
		Head:  github.String(pr.Branch),
		Base:  github.String(pr.Base),
		Body:  github.String(description(pr.Body)),
	})
	if err == nil {
		return opened(created), nil
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusUnprocessableEntity {
		open, _, lerr := g.client.PullRequests.List(ctx, g.owner, g.repo, &github.PullRequestListOptions{
			State: "open", Head: g.owner + ":" + pr.Branch, Base: pr.Base,
		})
		if lerr == nil && len(open) > 0 {
			return opened(open[0]), nil
		}
	}
	return Opened{}, fmt.Errorf("create pull request on %s/%s from %s: %w", g.owner, g.repo, pr.Branch, err)
}

func opened(pr *github.PullRequest) Opened {
	return Opened{Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Created: pr.GetCreatedAt().Time}
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
