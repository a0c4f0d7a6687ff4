package gitops

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
)

var _ PullRequestKeeper = (*GitHub)(nil)

// maxListPages bounds the pages of open pull requests read (100 each).
const maxListPages = 10

// description is the description of the reconciler's pull request that
// proposes a commit whose message body (with trailers) is body.
func description(body string) string { return WithParagraph(body, reconcilerNote) }

// PullRequestsFrom lists the pull requests from branch of this
// repository, open, closed or merged, newest first.
func (g *GitHub) PullRequestsFrom(ctx context.Context, branch string) ([]Proposed, error) {
	prs, _, err := g.client.PullRequests.List(ctx, g.owner, g.repo, &github.PullRequestListOptions{
		State: "all", Head: g.owner + ":" + branch, Sort: "created", Direction: "desc",
		ListOptions: github.ListOptions{PerPage: 10},
	})
	if err != nil {
		return nil, fmt.Errorf("listing the pull requests on %s/%s from %s: %w", g.owner, g.repo, branch, err)
	}
	out := make([]Proposed, 0, len(prs))
	for _, p := range prs {
		out = append(out, proposed(p))
	}
	return out, nil
}

// OpenPullRequestsUnder lists the open pull requests from this
// repository's branches whose names start with prefix.
func (g *GitHub) OpenPullRequestsUnder(ctx context.Context, prefix string) ([]Proposed, error) {
	var out []Proposed
	opts := &github.PullRequestListOptions{State: "open", ListOptions: github.ListOptions{PerPage: 100}}
	for page := 0; page < maxListPages; page++ {
		prs, resp, err := g.client.PullRequests.List(ctx, g.owner, g.repo, opts)
		if err != nil {
			return nil, fmt.Errorf("listing the open pull requests on %s/%s: %w", g.owner, g.repo, err)
		}
		for _, p := range prs {
			if strings.HasPrefix(p.GetHead().GetRef(), prefix) && p.GetHead().GetLabel() == g.owner+":"+p.GetHead().GetRef() {
				out = append(out, proposed(p))
			}
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// UpdatePullRequest sets the title and description of the open pull
// request p to pr's, when they differ: its branch was force-pushed with
// the outcome's commit on a newer head.
func (g *GitHub) UpdatePullRequest(ctx context.Context, p Proposed, pr PullRequest) (Opened, error) {
	o := Opened{Number: p.Number, URL: p.URL, Created: p.Created}
	body := description(pr.Body)
	if p.Title == pr.Title && p.Body == body {
		return o, nil
	}
	if _, _, err := g.client.PullRequests.Edit(ctx, g.owner, g.repo, p.Number, &github.PullRequest{
		Title: github.String(pr.Title), Body: github.String(body),
	}); err != nil {
		return Opened{}, fmt.Errorf("updating pull request %s: %w", p.URL, err)
	}
	return o, nil
}

// CommentPullRequest adds a comment to pull request number.
func (g *GitHub) CommentPullRequest(ctx context.Context, number int, body string) error {
	if _, _, err := g.client.Issues.CreateComment(ctx, g.owner, g.repo, number, &github.IssueComment{Body: github.String(body)}); err != nil {
		return fmt.Errorf("commenting on pull request #%d of %s/%s: %w", number, g.owner, g.repo, err)
	}
	return nil
}

// ClosePullRequest comments on pull request number, then closes it.
func (g *GitHub) ClosePullRequest(ctx context.Context, number int, comment string) error {
	if err := g.CommentPullRequest(ctx, number, comment); err != nil {
		return err
	}
	if _, _, err := g.client.PullRequests.Edit(ctx, g.owner, g.repo, number, &github.PullRequest{State: github.String("closed")}); err != nil {
		return fmt.Errorf("closing pull request #%d of %s/%s: %w", number, g.owner, g.repo, err)
	}
	return nil
}

func proposed(p *github.PullRequest) Proposed {
	return Proposed{
		Number: p.GetNumber(), URL: p.GetHTMLURL(), Branch: p.GetHead().GetRef(),
		Title: p.GetTitle(), Body: p.GetBody(), Open: p.GetState() == "open", Merged: p.MergedAt != nil,
		Created: p.GetCreatedAt().Time,
	}
}
