package action

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-github/v60/github"
)

// event is the part of a webhook payload the action uses. Exactly one of
// pr, push and dispatch is set, or skip says why there is nothing to do.
type event struct {
	name     string
	actor    string
	repo     string // full name from the payload
	pr       *prEvent
	push     *pushEvent
	dispatch *dispatchEvent
	skip     string
}

type prEvent struct {
	action  string
	number  int
	baseSHA string
	baseRef string
	headSHA string
	headRef string
	title   string
	labels  []string
	htmlURL string
}

type pushEvent struct {
	ref           string
	before, after string
	defaultBranch string
	forced        bool
}

type dispatchEvent struct {
	ref           string
	rollback      string // "<model>/<stage>", "" when not asked
	defaultBranch string
}

// judgesChange reports whether a pull_request action (re)judges a change.
func judgesChange(action string) bool {
	switch action {
	case "opened", "synchronize", "reopened":
		return true
	}
	return false
}

// readEvent reads and parses GITHUB_EVENT_PATH for GITHUB_EVENT_NAME.
func readEvent(name, path string) (*event, error) {
	if name == "" {
		return nil, envErrorf("GITHUB_EVENT_NAME is not set: run the action from a GitHub Actions workflow")
	}
	if path == "" {
		return nil, envErrorf("GITHUB_EVENT_PATH is not set: run the action from a GitHub Actions workflow")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, envErrorf("reading the %s event: %v", name, err)
	}
	return parseEvent(name, b)
}

func parseEvent(name string, payload []byte) (*event, error) {
	ev := &event{name: name}
	switch name {
	case "pull_request", "pull_request_target", "push", "workflow_dispatch":
	default:
		ev.skip = fmt.Sprintf("the %s event is not handled (pull_request, push and workflow_dispatch are)", name)
		return ev, nil
	}
	// ParseWebHook knows pull_request_target only as a pull_request payload.
	hookName := name
	if name == "pull_request_target" {
		hookName = "pull_request"
	}
	if !json.Valid(payload) {
		return nil, envErrorf("the %s event file (GITHUB_EVENT_PATH) is not valid JSON", name)
	}
	parsed, err := github.ParseWebHook(hookName, payload)
	if err != nil {
		return nil, envErrorf("parsing the %s event: %v", name, err)
	}
	switch e := parsed.(type) {
	case *github.PullRequestEvent:
		ev.actor = e.GetSender().GetLogin()
		ev.repo = e.GetRepo().GetFullName()
		pr := e.GetPullRequest()
		if pr == nil || pr.GetBase().GetSHA() == "" || pr.GetHead().GetSHA() == "" {
			return nil, envErrorf("the %s event has no pull_request with base and head commits", name)
		}
		if !judgesChange(e.GetAction()) {
			ev.skip = fmt.Sprintf("pull_request action %q does not change the code (opened, synchronize and reopened do)", e.GetAction())
			return ev, nil
		}
		p := &prEvent{
			action: e.GetAction(), number: pr.GetNumber(),
			baseSHA: pr.GetBase().GetSHA(), baseRef: pr.GetBase().GetRef(),
			headSHA: pr.GetHead().GetSHA(), headRef: pr.GetHead().GetRef(),
			title: pr.GetTitle(), htmlURL: pr.GetHTMLURL(),
		}
		if p.number == 0 {
			p.number = e.GetNumber()
		}
		for _, l := range pr.Labels {
			p.labels = append(p.labels, l.GetName())
		}
		ev.pr = p
	case *github.PushEvent:
		ev.actor = e.GetSender().GetLogin()
		ev.repo = e.GetRepo().GetFullName()
		p := &pushEvent{ref: e.GetRef(), before: e.GetBefore(), after: e.GetAfter(),
			defaultBranch: e.GetRepo().GetDefaultBranch(), forced: e.GetForced()}
		if p.after == "" || p.ref == "" {
			return nil, envErrorf("the push event has no ref or after commit")
		}
		switch {
		case e.GetDeleted() || isZeroSHA(p.after):
			ev.skip = "the push deleted " + p.ref
		case p.defaultBranch != "" && p.ref != "refs/heads/"+p.defaultBranch:
			ev.skip = fmt.Sprintf("%s is not the default branch (%s): only merges to it promote", p.ref, p.defaultBranch)
		default:
			ev.push = p
		}
	case *github.WorkflowDispatchEvent:
		ev.actor = e.GetSender().GetLogin()
		ev.repo = e.GetRepo().GetFullName()
		d := &dispatchEvent{ref: e.GetRef(), defaultBranch: e.GetRepo().GetDefaultBranch()}
		if len(e.Inputs) > 0 {
			var inputs map[string]any
			if err := json.Unmarshal(e.Inputs, &inputs); err != nil {
				return nil, envErrorf("the workflow_dispatch inputs are not a JSON object: %v", err)
			}
			if s, ok := inputs["rollback"].(string); ok {
				d.rollback = strings.TrimSpace(s)
			}
		}
		if d.rollback == "" {
			ev.skip = "workflow_dispatch without a `rollback: <model>/<stage>` input"
			return ev, nil
		}
		ev.dispatch = d
	default:
		return nil, envErrorf("unexpected payload type %T for the %s event", parsed, name)
	}
	return ev, nil
}

func isZeroSHA(s string) bool { return strings.Trim(s, "0") == "" }

// splitRepo takes owner/name from GITHUB_REPOSITORY, else from the payload.
func splitRepo(full string, ev *event) (string, string, error) {
	if full == "" {
		full = ev.repo
	}
	owner, name, ok := strings.Cut(full, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", envErrorf("GITHUB_REPOSITORY %q is not owner/name", full)
	}
	return owner, name, nil
}
