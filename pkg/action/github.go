package action

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"
)

// GitHub is what the action needs of the GitHub REST API.
type GitHub interface {
	// ListIssueComments returns every comment of an issue or pull request,
	// following pagination.
	ListIssueComments(ctx context.Context, owner, repo string, number int) ([]Comment, error)
	CreateIssueComment(ctx context.Context, owner, repo string, number int, body string) (Comment, error)
	EditIssueComment(ctx context.Context, owner, repo string, id int64, body string) error
	DeleteIssueComment(ctx context.Context, owner, repo string, id int64) error
	// CreateCheckRun creates a check run and returns its id.
	CreateCheckRun(ctx context.Context, owner, repo string, run CheckRun) (int64, error)
	UpdateCheckRun(ctx context.Context, owner, repo string, id int64, run CheckRun) error
	CreateDeployment(ctx context.Context, owner, repo string, d Deployment) (int64, error)
	CreatePull(ctx context.Context, owner, repo string, p NewPull) (number int, htmlURL string, err error)
}

// Comment is an issue comment.
type Comment struct {
	ID   int64
	Body string
}

// CheckRun is a check run's fields the action sets.
type CheckRun struct {
	Name        string
	HeadSHA     string // create only
	Status      string // in_progress | completed
	Conclusion  string // success | failure | neutral (with completed)
	Title       string
	Summary     string
	Text        string
	Annotations []Annotation
}

// Annotation is a check run annotation on a file's lines.
type Annotation struct {
	Path      string
	StartLine int
	EndLine   int
	StartCol  int // only when StartLine == EndLine
	EndCol    int
	Level     string // notice | warning | failure
	Title     string
	Message   string
}

// Deployment is a deployment request.
type Deployment struct {
	Ref         string
	Environment string
	Description string
	Payload     any
}

// NewPull is a pull request to open.
type NewPull struct {
	Title, Head, Base, Body string
}

// APIError is a GitHub API call that got an HTTP error status.
type APIError struct {
	Op      string
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("GitHub API: %s: status %d: %s", e.Op, e.Status, e.Message)
}

// statusOf is the HTTP status of a failed API call, 0 if unknown.
func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// NewGitHub returns a GitHub client for apiURL (GITHUB_API_URL: for
// github.com https://api.github.com, for GitHub Enterprise Server
// https://HOST/api/v3) authenticated with token.
func NewGitHub(apiURL, token string, hc *http.Client) (GitHub, error) {
	u, err := url.Parse(strings.TrimRight(apiURL, "/") + "/")
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, envErrorf("GITHUB_API_URL %q is not a URL", apiURL)
	}
	c := github.NewClient(hc).WithAuthToken(token)
	c.BaseURL = u
	c.UserAgent = "switchyard-action"
	return &goGitHub{c: c}, nil
}

// goGitHub implements GitHub with go-github.
type goGitHub struct{ c *github.Client }

var _ GitHub = (*goGitHub)(nil)

func apiErr(op string, resp *github.Response, err error) error {
	if err == nil {
		return nil
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		msg := er.Message
		for _, e := range er.Errors {
			if e.Message != "" {
				msg += "; " + e.Message
			} else if e.Code != "" {
				msg += fmt.Sprintf("; %s %s", e.Field, e.Code)
			}
		}
		return &APIError{Op: op, Status: er.Response.StatusCode, Message: msg}
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) && rl.Response != nil {
		return &APIError{Op: op, Status: rl.Response.StatusCode, Message: rl.Message}
	}
	if resp != nil && resp.StatusCode >= 400 {
		return &APIError{Op: op, Status: resp.StatusCode, Message: err.Error()}
	}
	return fmt.Errorf("GitHub API: %s: %w", op, err)
}

func (g *goGitHub) ListIssueComments(ctx context.Context, owner, repo string, number int) ([]Comment, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var out []Comment
	for page := 0; page < 1000; page++ {
		cs, resp, err := g.c.Issues.ListComments(ctx, owner, repo, number, opts)
		if err != nil {
			return nil, apiErr(fmt.Sprintf("listing comments of #%d", number), resp, err)
		}
		for _, c := range cs {
			out = append(out, Comment{ID: c.GetID(), Body: c.GetBody()})
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

func (g *goGitHub) CreateIssueComment(ctx context.Context, owner, repo string, number int, body string) (Comment, error) {
	c, resp, err := g.c.Issues.CreateComment(ctx, owner, repo, number, &github.IssueComment{Body: &body})
	if err != nil {
		return Comment{}, apiErr(fmt.Sprintf("commenting on #%d", number), resp, err)
	}
	return Comment{ID: c.GetID(), Body: c.GetBody()}, nil
}

func (g *goGitHub) EditIssueComment(ctx context.Context, owner, repo string, id int64, body string) error {
	_, resp, err := g.c.Issues.EditComment(ctx, owner, repo, id, &github.IssueComment{Body: &body})
	return apiErr(fmt.Sprintf("editing comment %d", id), resp, err)
}

func (g *goGitHub) DeleteIssueComment(ctx context.Context, owner, repo string, id int64) error {
	resp, err := g.c.Issues.DeleteComment(ctx, owner, repo, id)
	return apiErr(fmt.Sprintf("deleting comment %d", id), resp, err)
}

func checkOutput(r CheckRun) *github.CheckRunOutput {
	if r.Title == "" && r.Summary == "" && len(r.Annotations) == 0 {
		return nil
	}
	out := &github.CheckRunOutput{Title: github.String(r.Title), Summary: github.String(r.Summary)}
	if r.Text != "" {
		out.Text = github.String(r.Text)
	}
	for _, a := range r.Annotations {
		ga := &github.CheckRunAnnotation{
			Path: github.String(a.Path), StartLine: github.Int(a.StartLine), EndLine: github.Int(a.EndLine),
			AnnotationLevel: github.String(a.Level), Message: github.String(a.Message),
		}
		if a.Title != "" {
			ga.Title = github.String(a.Title)
		}
		if a.StartLine == a.EndLine && a.StartCol > 0 {
			ga.StartColumn = github.Int(a.StartCol)
			if a.EndCol >= a.StartCol {
				ga.EndColumn = github.Int(a.EndCol)
			}
		}
		out.Annotations = append(out.Annotations, ga)
	}
	return out
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (g *goGitHub) CreateCheckRun(ctx context.Context, owner, repo string, r CheckRun) (int64, error) {
	cr, resp, err := g.c.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{
		Name: r.Name, HeadSHA: r.HeadSHA, Status: optString(r.Status), Conclusion: optString(r.Conclusion),
		Output: checkOutput(r),
	})
	if err != nil {
		return 0, apiErr("creating check run "+r.Name, resp, err)
	}
	return cr.GetID(), nil
}

func (g *goGitHub) UpdateCheckRun(ctx context.Context, owner, repo string, id int64, r CheckRun) error {
	_, resp, err := g.c.Checks.UpdateCheckRun(ctx, owner, repo, id, github.UpdateCheckRunOptions{
		Name: r.Name, Status: optString(r.Status), Conclusion: optString(r.Conclusion), Output: checkOutput(r),
	})
	return apiErr(fmt.Sprintf("updating check run %d", id), resp, err)
}

func (g *goGitHub) CreateDeployment(ctx context.Context, owner, repo string, d Deployment) (int64, error) {
	req := &github.DeploymentRequest{
		Ref: github.String(d.Ref), Task: github.String("deploy"), AutoMerge: github.Bool(false),
		RequiredContexts: &[]string{}, Payload: d.Payload, Environment: github.String(d.Environment),
		Description: optString(d.Description),
	}
	dep, resp, err := g.c.Repositories.CreateDeployment(ctx, owner, repo, req)
	if err != nil {
		return 0, apiErr("creating a deployment to "+d.Environment, resp, err)
	}
	return dep.GetID(), nil
}

func (g *goGitHub) CreatePull(ctx context.Context, owner, repo string, p NewPull) (int, string, error) {
	pr, resp, err := g.c.PullRequests.Create(ctx, owner, repo, &github.NewPullRequest{
		Title: github.String(p.Title), Head: github.String(p.Head), Base: github.String(p.Base), Body: github.String(p.Body),
	})
	if err != nil {
		return 0, "", apiErr("opening a pull request from "+p.Head, resp, err)
	}
	return pr.GetNumber(), pr.GetHTMLURL(), nil
}
