package action

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

func TestBadInput(t *testing.T) {
	model := fraudModel(t, 0)
	tests := []struct {
		name  string
		setup func(t *testing.T, gh *fakeGitHub) Config
		code  int
		want  string
	}{
		{"malformed event file", func(t *testing.T, gh *fakeGitHub) Config {
			r := newPRRepo(t, model.URL, nil)
			p := filepath.Join(t.TempDir(), "event.json")
			os.WriteFile(p, []byte(`{"action": "opened", "pull_request": {`), 0o644)
			return baseConfig(t, gh, r.dir, "pull_request", p)
		}, ExitEnvironment, "the pull_request event file (GITHUB_EVENT_PATH) is not valid JSON"},
		{"event file missing", func(t *testing.T, gh *fakeGitHub) Config {
			return baseConfig(t, gh, t.TempDir(), "pull_request", filepath.Join(t.TempDir(), "nope.json"))
		}, ExitEnvironment, "reading the pull_request event"},
		{"event without pull request", func(t *testing.T, gh *fakeGitHub) Config {
			p := filepath.Join(t.TempDir(), "event.json")
			os.WriteFile(p, []byte(`{"action": "opened", "number": 42}`), 0o644)
			return baseConfig(t, gh, t.TempDir(), "pull_request", p)
		}, ExitEnvironment, "has no pull_request with base and head commits"},
		{"missing token", func(t *testing.T, gh *fakeGitHub) Config {
			r := newPRRepo(t, model.URL, nil)
			cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head))
			cfg.Token = ""
			return cfg
		}, ExitEnvironment, "the github-token input is empty"},
		{"bad repository", func(t *testing.T, gh *fakeGitHub) Config {
			r := newPRRepo(t, model.URL, nil)
			cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head))
			cfg.Repository = "octo-org"
			return cfg
		}, ExitEnvironment, `GITHUB_REPOSITORY "octo-org" is not owner/name`},
		{"no repository in the workspace", func(t *testing.T, gh *fakeGitHub) Config {
			r := newPRRepo(t, model.URL, nil)
			return baseConfig(t, gh, t.TempDir(), "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head))
		}, ExitEnvironment, "check out the repository with actions/checkout first"},
		{"base missing from a shallow checkout", func(t *testing.T, gh *fakeGitHub) Config {
			r := newPRRepo(t, model.URL, nil)
			r.branch("main", r.head)
			origin := withOrigin(t, r.testRepo)
			shallow := t.TempDir()
			if _, err := git.PlainClone(shallow, false, &git.CloneOptions{URL: "file://" + origin, Depth: 1, ReferenceName: plumbing.NewBranchReferenceName("main"), SingleBranch: true}); err != nil {
				t.Skipf("shallow clone of a local repository: %v", err)
			}
			return baseConfig(t, gh, shallow, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head))
		}, ExitEnvironment, "is not in the checkout (the checkout is shallow): set fetch-depth: 0 on actions/checkout"},
		{"base policies do not compile", func(t *testing.T, gh *fakeGitHub) Config {
			r := newTestRepo(t)
			files := fixture(t, model.URL)
			files["policies/broken.rego"] = ptr("package switchyard\n\ndeny contains msg if {\n\tmsg := \n}\n")
			base := r.commit("base", files)
			head := r.commit("promote", map[string]*string{
				"rollouts/fraud.hcl": ptr(strings.Replace(*files["rollouts/fraud.hcl"], `serve  = "v7"`, `serve  = "v8"`, 1)),
				// Fixing them in the change itself does not count.
				"policies/broken.rego": nil,
			})
			return baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", base, head))
		}, ExitEnvironment, "the policies in policies/ at the base commit"},
		{"malformed rollback input", func(t *testing.T, gh *fakeGitHub) Config {
			r := newPRRepo(t, model.URL, nil)
			return baseConfig(t, gh, r.dir, "workflow_dispatch", writeEvent(t, "workflow_dispatch", map[string]any{"inputs": map[string]any{"rollback": "fraud"}}))
		}, ExitEnvironment, `the rollback input "fraud" is not <model>/<stage>`},
		{"rollback of an unknown model", func(t *testing.T, gh *fakeGitHub) Config {
			r := newPRRepo(t, model.URL, nil)
			r.branch("main", r.head)
			withOrigin(t, r.testRepo)
			return baseConfig(t, gh, r.dir, "workflow_dispatch", writeEvent(t, "workflow_dispatch", map[string]any{"inputs": map[string]any{"rollback": "nope/production"}}))
		}, ExitEnvironment, `no model "nope" "production"`},
		{"push missing the previous commit", func(t *testing.T, gh *fakeGitHub) Config {
			r := newPRRepo(t, model.URL, nil)
			return baseConfig(t, gh, r.dir, "push", writeEvent(t, "push", map[string]any{"after": r.head}))
		}, ExitEnvironment, "set fetch-depth: 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gh := newFakeGitHub(t)
			res := runAction(t, tc.setup(t, gh))
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, tc.code, res.stdout, res.stderr)
			}
			if !strings.Contains(res.stderr, tc.want) {
				t.Fatalf("stderr lacks %q:\n%s", tc.want, res.stderr)
			}
			if !strings.Contains(res.stdout, "::error title=switchyard::") {
				t.Errorf("no workflow-command error on stdout:\n%s", res.stdout)
			}
			if n := len(gh.planComments()) + len(gh.checkReqs) + len(gh.deployments) + len(gh.pulls) + gh.gitWrites(); n != 0 {
				t.Errorf("%d writes to GitHub on bad input", n)
			}
		})
	}
}

func TestSkippedEvents(t *testing.T) {
	gh := newFakeGitHub(t)
	for _, tc := range []struct{ name, event, file, want string }{
		{"closed pull request", "pull_request", writeEvent(t, "pull_request.opened", map[string]any{"action": "closed"}), `pull_request action "closed"`},
		{"dispatch without rollback", "workflow_dispatch", writeEvent(t, "workflow_dispatch", map[string]any{"inputs": map[string]any{}}), "without a `rollback"},
		{"other event", "issues", writeEvent(t, "workflow_dispatch", nil), "the issues event is not handled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runAction(t, baseConfig(t, gh, t.TempDir(), tc.event, tc.file))
			if res.code != ExitOK || !strings.Contains(res.stdout, tc.want) {
				t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
		})
	}
	if len(gh.requests()) != 0 {
		t.Fatalf("requests on skipped events: %v", gh.requests())
	}
}
