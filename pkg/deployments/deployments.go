// Package deployments reports the reconciler's rollouts to GitHub as
// deployments and deployment statuses (in_progress, success, failure with
// the reason), so that pull requests and the repository's Deployments
// page show what is live. It is a notify.Sink: the reconciler's events
// reach it through the same bounded, retried queue as notifications.
package deployments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"

	"github.com/switchyard-dev/switchyard/pkg/notify"
)

// Payload is a deployment's payload, the same the GitHub Action writes
// when it records a deployment on a push, so that the reconciler reports
// on the Action's deployment rather than making a second one.
type Payload struct {
	Model string `json:"model"`
	Stage string `json:"stage"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Reporter turns events into deployment statuses of one repository.
type Reporter struct {
	gh          *github.Client
	owner, repo string
	// logURL is linked from every status (the status page), "" for none.
	logURL string

	mu  sync.Mutex
	ids map[string]int64 // "model/stage/version" -> deployment id
}

var _ notify.Sink = (*Reporter)(nil)

// New reports to owner/repo through gh; logURL (may be "") is the status
// page the statuses link to.
func New(gh *github.Client, owner, repo, logURL string) *Reporter {
	return &Reporter{gh: gh, owner: owner, repo: repo, logURL: logURL, ids: map[string]int64{}}
}

// Type labels the reporter in metrics.
func (r *Reporter) Type() string { return "github" }

// Label names the reporter in logs.
func (r *Reporter) Label() string { return "GitHub deployments of " + r.owner + "/" + r.repo }

// Wants reports whether an event changes a deployment's status.
func (r *Reporter) Wants(event string) bool {
	switch event {
	case "started", "paused", "succeeded", "rollback", "fallback", "roll_through", "promote",
		"aborted", "superseded":
		return true
	}
	return false
}

// Deliver reports ev: a rollout that starts is a deployment in progress
// (the Action's deployment of that commit when there is one, else a new
// one); it succeeds or fails with the reason; an experiment's winner is a
// deployment that succeeded at once.
func (r *Reporter) Deliver(ctx context.Context, ev notify.Event) (bool, error) {
	switch ev.Event {
	case "started", "paused":
		id, retry, err := r.deployment(ctx, ev, ev.To, ev.Commit, true)
		if err != nil {
			return retry, err
		}
		desc := fmt.Sprintf("rolling out %s (from %s)", ev.To, ev.From)
		if ev.Event == "paused" {
			desc = "paused: " + ev.Reason
		}
		return r.status(ctx, id, ev.Stage, "in_progress", desc)
	case "succeeded":
		id, retry, err := r.deployment(ctx, ev, ev.To, ev.Commit, true)
		if err != nil {
			return retry, err
		}
		return r.status(ctx, id, ev.Stage, "success", fmt.Sprintf("%s serves 100%% (rolled out from %s)", ev.To, ev.From))
	case "rollback", "fallback", "roll_through":
		// The failed version is ev.From; its deployment was made when
		// its rollout started (found again after a restart).
		id, retry, err := r.deployment(ctx, ev, ev.From, "", false)
		if err != nil {
			return retry, err
		}
		if id == 0 {
			return false, nil // never reported as started: nothing to fail
		}
		desc := fmt.Sprintf("%s to %s: %s", pastTense(ev.Event), ev.To, ev.Reason)
		if ev.Commit != "" {
			desc = fmt.Sprintf("%s to %s by %.8s: %s", pastTense(ev.Event), ev.To, ev.Commit, ev.Reason)
		}
		return r.status(ctx, id, ev.Stage, "failure", desc)
	case "aborted", "superseded":
		// Git changed its mind: the deployment in progress ends inactive.
		id, retry, err := r.deployment(ctx, ev, ev.To, "", false)
		if err != nil || id == 0 {
			return retry, err
		}
		return r.status(ctx, id, ev.Stage, "inactive", ev.Event+": "+ev.Reason)
	case "promote":
		id, retry, err := r.deployment(ctx, ev, ev.To, ev.Commit, true)
		if err != nil {
			return retry, err
		}
		return r.status(ctx, id, ev.Stage, "success", fmt.Sprintf("experiment winner %s promoted: %s", ev.To, ev.Reason))
	}
	return false, nil
}

func pastTense(event string) string {
	switch event {
	case "rollback":
		return "rolled back"
	case "fallback":
		return "fell back"
	}
	return "rolled through"
}

// deployment finds the deployment of model/stage at version: remembered,
// else listed (of ref when given), else created on ref when create is
// set. 0 without an error: none, and not to be created.
func (r *Reporter) deployment(ctx context.Context, ev notify.Event, version, ref string, create bool) (int64, bool, error) {
	key := ev.Model + "/" + ev.Stage + "/" + version
	r.mu.Lock()
	id, ok := r.ids[key]
	r.mu.Unlock()
	if ok {
		return id, false, nil
	}
	list, resp, err := r.gh.Repositories.ListDeployments(ctx, r.owner, r.repo, &github.DeploymentsListOptions{
		SHA: ref, Environment: ev.Stage, ListOptions: github.ListOptions{PerPage: 30},
	})
	if err != nil {
		return 0, retryable(resp, err), apiErr("listing deployments", resp, err)
	}
	for _, d := range list { // newest first
		var p Payload
		if json.Unmarshal(d.Payload, &p) == nil && p.Model == ev.Model && p.To == version {
			id = d.GetID()
			break
		}
	}
	if id == 0 && create {
		if ref == "" {
			return 0, false, fmt.Errorf("no commit to record the deployment of %s on", key)
		}
		d, resp, err := r.gh.Repositories.CreateDeployment(ctx, r.owner, r.repo, &github.DeploymentRequest{
			Ref: github.String(ref), Task: github.String("deploy"), AutoMerge: github.Bool(false),
			RequiredContexts: &[]string{}, Environment: github.String(ev.Stage),
			Payload:               Payload{Model: ev.Model, Stage: ev.Stage, From: ev.From, To: version},
			Description:           github.String(clip(fmt.Sprintf("switchyard: %s/%s %s → %s", ev.Model, ev.Stage, ev.From, version))),
			ProductionEnvironment: github.Bool(ev.Stage == "production"),
		})
		if err != nil {
			return 0, retryable(resp, err), apiErr("creating a deployment of "+key, resp, err)
		}
		id = d.GetID()
	}
	if id != 0 {
		r.mu.Lock()
		r.ids[key] = id
		r.mu.Unlock()
	}
	return id, false, nil
}

func (r *Reporter) status(ctx context.Context, id int64, env, state, desc string) (bool, error) {
	req := &github.DeploymentStatusRequest{
		State: github.String(state), Description: github.String(clip(desc)),
		Environment: github.String(env), AutoInactive: github.Bool(false),
	}
	if r.logURL != "" {
		req.LogURL = github.String(r.logURL)
	}
	_, resp, err := r.gh.Repositories.CreateDeploymentStatus(ctx, r.owner, r.repo, id, req)
	if err != nil {
		return retryable(resp, err), apiErr(fmt.Sprintf("setting deployment %d %s", id, state), resp, err)
	}
	return false, nil
}

// clip keeps a description within GitHub's 140 characters.
func clip(s string) string {
	const limit = 140
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit-1]) + "…"
}

// retryable: no answer at all, or one that may change by itself.
func retryable(resp *github.Response, err error) bool {
	if resp == nil || resp.Response == nil {
		return !errors.Is(err, context.Canceled)
	}
	return notify.Retryable(resp.StatusCode)
}

func apiErr(op string, resp *github.Response, err error) error {
	if resp != nil && resp.Response != nil {
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return fmt.Errorf("%s: GitHub answered %d (the token needs `deployments: write` on the repository): %w", op, resp.StatusCode, err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}
