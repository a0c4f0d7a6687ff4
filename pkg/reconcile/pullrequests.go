package reconcile

import (
	"sort"
	"time"
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
