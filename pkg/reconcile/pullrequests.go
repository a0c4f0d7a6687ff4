package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// OpenedPullRequest is the pull request that `--push pr` opened for a
// model's outcome.
type OpenedPullRequest struct {
	Action string
	Commit string
	URL    string
	// Created is when the pull request was opened.
	Created time.Time
}

// PullRequestReporter is implemented by a Repo that proposes outcomes as
// pull requests (`--push pr`): the last one opened for each model key.
type PullRequestReporter interface {
	OpenedPullRequests() map[string]OpenedPullRequest
}

// PendingPullRequest is an outcome pull request not merged yet: traffic is
// already where its commit puts it, and Git disagrees until it is merged.
type PendingPullRequest struct {
	Model  string    `json:"model"`
	Action string    `json:"action"`
	URL    string    `json:"url"`
	Commit string    `json:"commit"`
	Opened time.Time `json:"opened"`
	// AgeSeconds is how long it has been open.
	AgeSeconds float64 `json:"age_seconds"`
}

// pendingPullRequests lists the outcome pull requests whose outcome Git
// does not say yet (the engine still awaits it), oldest first, without
// their age (agedAt sets it when the status is read). The pass calls it:
// it reads the engine's state.
func (d *Daemon) pendingPullRequests() []PendingPullRequest {
	rep, ok := d.deps.Repo.(PullRequestReporter)
	if !ok {
		return nil
	}
	var out []PendingPullRequest
	for key, pr := range rep.OpenedPullRequests() {
		st, ok := d.state.Models[key]
		if !ok || st.Awaiting == nil || string(st.Awaiting.Kind) != pr.Action {
			continue // merged (Git agrees), or superseded by a person
		}
		out = append(out, PendingPullRequest{Model: key, Action: pr.Action, URL: pr.URL, Commit: pr.Commit, Opened: pr.Created})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Opened.Equal(out[j].Opened) {
			return out[i].Opened.Before(out[j].Opened)
		}
		return out[i].Model < out[j].Model
	})
	return out
}

// agedAt is prs, in a new slice, with each one's age at now.
func agedAt(prs []PendingPullRequest, now time.Time) []PendingPullRequest {
	if len(prs) == 0 {
		return prs
	}
	out := make([]PendingPullRequest, len(prs))
	for i, p := range prs {
		if !p.Opened.IsZero() {
			p.AgeSeconds = now.Sub(p.Opened).Seconds()
		}
		out[i] = p
	}
	return out
}

// proposedAs says, for an outcome commit that `--push pr` proposed as a
// pull request, where to merge it ("" for a commit pushed to the branch).
func (d *Daemon) proposedAs(key, commit string) string {
	rep, ok := d.deps.Repo.(PullRequestReporter)
	if !ok || commit == "" {
		return ""
	}
	if pr, ok := rep.OpenedPullRequests()[key]; ok && pr.Commit == commit {
		return "proposed as pull request " + pr.URL + ": merge it, Git disagrees with traffic until then"
	}
	return ""
}

// PullRequestCloser is implemented by a Repo that proposes outcomes as
// pull requests (`--push pr`): it closes the open ones no model awaits
// any more, commenting why(key) on those of a model that awaits nothing,
// and returns the addresses of those it closed.
type PullRequestCloser interface {
	CloseStalePullRequests(ctx context.Context, awaiting map[string]rollout.WriteCommit, why func(key string) string) ([]string, error)
}

// closeStalePullRequests closes, once per commit in force, the outcome
// pull requests of the tree's models that Git no longer needs: a person
// changed serve since, or a newer outcome supersedes them. Left open, one
// merged later would put an outdated commit into Git. A failure is
// retried on the next pass.
func (d *Daemon) closeStalePullRequests(ctx context.Context, tree *spec.Tree, commit string) {
	c, ok := d.deps.Repo.(PullRequestCloser)
	now := d.deps.Clock.Now()
	if !ok || commit == "" || commit == d.prSwept || now.Before(d.prSweep.nextTry) {
		return
	}
	awaiting := map[string]rollout.WriteCommit{}
	for key, st := range d.state.Models {
		if st.Awaiting != nil {
			awaiting[key] = *st.Awaiting
		}
	}
	why := func(key string) string { return staleComment(tree, commit, key) }
	closed, err := c.CloseStalePullRequests(ctx, awaiting, why)
	for _, url := range closed {
		d.log.Info("closed an outcome pull request Git no longer needs", "pull_request", url, "commit", commit)
	}
	if err != nil {
		d.prSweep.attempts++
		d.prSweep.nextTry = now.Add(d.backoff(d.prSweep.attempts))
		d.log.Warn("closing the outcome pull requests Git no longer needs failed; will retry",
			"attempt", d.prSweep.attempts, "err", err)
		return
	}
	d.prSwept, d.prSweep = commit, retry{}
}

// retry paces a step that failed: the attempts so far, and when to try
// again.
type retry struct {
	attempts int
	nextTry  time.Time
}

// staleComment closes an outcome pull request of model key that no
// outcome awaits at commit: what Git says now. It is "" (leave it) for a
// model not in the tree: another reconciler's, following another path of
// the same repository, or one removed from the spec (close it by hand).
func staleComment(tree *spec.Tree, commit, key string) string {
	name, stage, _ := strings.Cut(key, "/")
	m := findModel(tree, name, stage)
	if m == nil {
		return ""
	}
	return fmt.Sprintf("Closed by the reconciler: this outcome is no longer needed. At %s, Git says `serve = %q` for %s (%s), "+
		"a change made since it was proposed, or this outcome landed another way. "+
		"Traffic follows Git; merging this pull request would put an outdated commit into Git.\n", commitid.Short(commit), m.Serve, key, m.File)
}

// reproposeOnNewHead queues again, once per commit in force, each awaited
// outcome whose pull request this reconciler opened, when the followed
// branch moved on since: written anew on the new head and force-pushed to
// the same pull request, it stays mergeable where branches must be up to
// date, without a person's "Update branch" (which would make its merge a
// person's change). At start every awaited outcome is pending already.
func (d *Daemon) reproposeOnNewHead(commit string) {
	rep, ok := d.deps.Repo.(PullRequestReporter)
	if !ok || commit == "" || commit == d.prRebased {
		return
	}
	first := d.prRebased == ""
	d.prRebased = commit
	if first {
		return
	}
	prs := rep.OpenedPullRequests()
	for key, st := range d.state.Models {
		pr, ok := prs[key]
		if st.Awaiting == nil || !ok || pr.Action != string(st.Awaiting.Kind) || d.isPending(key) {
			continue
		}
		d.pending = append(d.pending, &pending{out: *st.Awaiting, announced: true, again: true})
	}
}

// isPending says whether an outcome of model key waits to be written.
func (d *Daemon) isPending(key string) bool {
	for _, p := range d.pending {
		if p.out.Key() == key {
			return true
		}
	}
	return false
}
