package gitops

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/rollout"
)

// PullRequestKeeper is a PullRequestOpener that also finds, updates and
// closes the pull requests it opened, so that a model has at most one
// outcome pull request open at any time (`reconciler run --push pr`).
// GitHub implements it; tests use a fake API.
type PullRequestKeeper interface {
	PullRequestOpener
	// PullRequestsFrom lists the pull requests from branch, open or not,
	// newest first.
	PullRequestsFrom(ctx context.Context, branch string) ([]Proposed, error)
	// OpenPullRequestsUnder lists the open pull requests from branches
	// whose names start with prefix.
	OpenPullRequestsUnder(ctx context.Context, prefix string) ([]Proposed, error)
	// UpdatePullRequest gives the open pull request p the title and
	// description of pr (when they differ) and returns it.
	UpdatePullRequest(ctx context.Context, p Proposed, pr PullRequest) (Opened, error)
	// CommentPullRequest adds a comment to pull request number.
	CommentPullRequest(ctx context.Context, number int, body string) error
	// ClosePullRequest comments on pull request number, then closes it.
	ClosePullRequest(ctx context.Context, number int, comment string) error
}

// Proposed is a pull request found on the remote.
type Proposed struct {
	Number int
	URL    string
	Branch string
	Title  string
	Body   string
	Open   bool
	Merged bool
	// Created is when it was opened.
	Created time.Time
}

// outcomeBranchPrefix starts every branch `--push pr` proposes outcomes
// on; the model and stage follow, as path segments (names hold no slash).
const outcomeBranchPrefix = "switchyard/"

// modelBranchPrefix is the start of the branches of every outcome of the
// model key ("name/stage").
func modelBranchPrefix(key string) string {
	name, stage, _ := strings.Cut(key, "/")
	return outcomeBranchPrefix + refSafe(name) + "/" + refSafe(stage) + "/"
}

// refSafe is a name that may hold "..", or end with "." or ".lock", as a
// ref name's component, which may not.
func refSafe(s string) string {
	s = strings.ReplaceAll(s, "..", "._")
	s = strings.TrimSuffix(s, ".lock")
	return strings.TrimSuffix(s, ".")
}

// outcomeBranch is the one branch outcome o is proposed on, whatever head
// it applies to: `switchyard/<model>/<stage>/<action>-<from>-to-<to>`
// (`<action>-<from>` when the outcome keeps serve, as a conclusion does).
// Proposed again on a newer head, the same outcome force-pushes the same
// branch, so its open pull request keeps its number and address.
func outcomeBranch(o rollout.WriteCommit) string {
	leaf := string(o.Kind) + "-" + o.From
	if o.To != o.From {
		leaf += "-to-" + o.To
	}
	return modelBranchPrefix(o.Key()) + refSafe(leaf)
}

// modelOfBranch is the model key of an outcome branch, "" for any other
// branch (the GitHub Action's rollback branches among them).
func modelOfBranch(branch string) string {
	parts := strings.Split(strings.TrimPrefix(branch, outcomeBranchPrefix), "/")
	if !strings.HasPrefix(branch, outcomeBranchPrefix) || len(parts) != 3 {
		return ""
	}
	return parts[0] + "/" + parts[1]
}

// keepOnePullRequest proposes pr, the outcome o's commit already pushed
// to pr.Branch: it updates the pull request open from that branch, or
// opens one (pointing the last one closed unmerged to it), then closes the
// model's other outcome pull requests as superseded by it.
func keepOnePullRequest(ctx context.Context, k PullRequestKeeper, o rollout.WriteCommit, pr PullRequest) (Opened, error) {
	prs, err := k.PullRequestsFrom(ctx, pr.Branch)
	if err != nil {
		return Opened{}, err
	}
	var opened Opened
	if len(prs) > 0 && prs[0].Open {
		if opened, err = k.UpdatePullRequest(ctx, prs[0], pr); err != nil {
			return Opened{}, err
		}
	} else {
		if opened, err = k.OpenPullRequest(ctx, pr); err != nil {
			return Opened{}, err
		}
		if len(prs) > 0 && !prs[0].Merged && prs[0].Number != opened.Number {
			if err := k.CommentPullRequest(ctx, prs[0].Number, reproposedComment(opened.URL)); err != nil {
				return opened, err
			}
		}
	}
	others, err := k.OpenPullRequestsUnder(ctx, modelBranchPrefix(o.Key()))
	if err != nil {
		return opened, err
	}
	for _, p := range others {
		if p.Branch == pr.Branch || p.Number == opened.Number {
			continue
		}
		if err := k.ClosePullRequest(ctx, p.Number, supersededComment(o.Key(), pr.Title, opened.URL)); err != nil {
			return opened, err
		}
	}
	return opened, nil
}

// reproposedComment is what the last pull request of an outcome, closed
// without being merged (by a person, or its branch deleted), says once the
// outcome is proposed again in a new one at url.
func reproposedComment(url string) string {
	return fmt.Sprintf("The reconciler proposes this outcome again in %s: this pull request was closed (or its branch deleted) "+
		"and can no longer be updated. Merge that one; this one stays closed.\n", url)
}

// supersededComment closes an outcome pull request of model key when a
// newer outcome, titled title, is proposed at url.
func supersededComment(key, title, url string) string {
	return fmt.Sprintf("Closed by the reconciler: a newer outcome for %s supersedes this one, proposed in %s (%q). "+
		"Merging this pull request would put an outdated commit into Git.\n", key, url, title)
}

// awaitsAnotherComment closes an outcome pull request of a model that now
// awaits another outcome, o, not proposed yet.
func awaitsAnotherComment(o rollout.WriteCommit) string {
	return fmt.Sprintf("Closed by the reconciler: %s now awaits another outcome (%s, %s → %s), proposed in its own pull request. "+
		"Merging this one would put an outdated commit into Git.\n", o.Key(), o.Kind, o.From, o.To)
}

// CloseStalePullRequests closes the open outcome pull requests
// (`--push pr`) that no model awaits any more: awaiting holds, per model
// key, the outcome the engine still waits for Git to say. A pull request
// of a model awaiting another outcome is closed as superseded; one of a
// model awaiting nothing (Git says it already, or a person changed serve)
// with the comment why(key), or left open when that is "" (a model the
// caller does not follow). Merged pull requests are not open, so never
// touched. It returns the addresses of those it closed. Without a
// PullRequestKeeper it does nothing.
func (r *Repo) CloseStalePullRequests(ctx context.Context, awaiting map[string]rollout.WriteCommit, why func(key string) string) ([]string, error) {
	k, ok := r.opts.PullRequests.(PullRequestKeeper)
	if !ok {
		return nil, nil
	}
	open, err := k.OpenPullRequestsUnder(ctx, outcomeBranchPrefix)
	if err != nil {
		return nil, err
	}
	var closed []string
	byPrefix := map[string]rollout.WriteCommit{}
	for _, o := range awaiting {
		byPrefix[modelBranchPrefix(o.Key())] = o
	}
	for _, p := range open {
		key := modelOfBranch(p.Branch)
		if key == "" {
			continue
		}
		comment := ""
		if o, ok := byPrefix[modelBranchPrefix(key)]; !ok {
			comment = why(key)
		} else if outcomeBranch(o) != p.Branch {
			comment = awaitsAnotherComment(o)
		}
		if comment == "" {
			continue
		}
		if err := k.ClosePullRequest(ctx, p.Number, comment); err != nil {
			return closed, fmt.Errorf("closing the stale pull request %s of %s: %w", p.URL, key, err)
		}
		closed = append(closed, p.URL)
	}
	return closed, nil
}
