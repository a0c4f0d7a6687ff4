package action

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/notes/ghnotes/ghnotestest"
)

const recsSpec = `model "recs" "staging" {
  router = "edge"
  path   = "/staging/v1/recs"
  serve  = "r1"

  version "r1" { url = "http://127.0.0.1:9301" }
}
`

func TestPushRecordsDeployments(t *testing.T) {
	model := fraudModel(t, 0)
	gh := newFakeGitHub(t)
	r := newTestRepo(t)
	files := fixture(t, model.URL)
	before := r.commit("base", files)
	after := r.commit("Merge pull request #42 from octo-org/promote-fraud-v8", map[string]*string{
		"rollouts/fraud.hcl": ptr(strings.Replace(*files["rollouts/fraud.hcl"], `serve  = "v7"`, `serve  = "v8"`, 1)),
		"rollouts/recs.hcl":  ptr(recsSpec),
		// A change that moves no traffic records no deployment.
		"rollouts/search.hcl": ptr(strings.Replace(*files["rollouts/search.hcl"], `"http://127.0.0.1:9202"`, `"http://127.0.0.1:9203"`, 1)),
	})
	cfg := baseConfig(t, gh, r.dir, "push", writeEvent(t, "push", map[string]any{"before": before, "after": after}))
	res := runAction(t, cfg)
	if res.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	var got []string
	for _, d := range gh.deployments {
		if d["ref"] != after {
			t.Errorf("deployment ref %v, want %s", d["ref"], after)
		}
		p, _ := json.Marshal(d["payload"])
		got = append(got, d["environment"].(string)+" "+string(p))
	}
	want := []string{
		`production {"from":"v7","model":"fraud","stage":"production","to":"v8"}`,
		`staging {"from":"","model":"recs","stage":"staging","to":"r1"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("deployments:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(res.summary, "| `fraud` | production | `v7` | `v8` |") ||
		!strings.Contains(res.summary, "### Offline validation\n\n- `fraud/production`:\n  - ✅ `v8`: accuracy 1") ||
		!strings.Contains(res.summary, "📝 The offline validation verdict (`fraud/production/v8`) is noted on `"+commitid.Short(after)+"`") {
		t.Errorf("summary:\n%s", res.summary)
	}
	// The promoted version's validation is noted on the pushed commit.
	lines := ghnotestest.Lines(gh.notes()[after])
	if len(lines) != 1 || verdictOf(t, lines[0], after)["passed"] != true {
		t.Fatalf("notes: %v", gh.notes())
	}

	// A push to another branch does nothing.
	gh2 := newFakeGitHub(t)
	cfg = baseConfig(t, gh2, r.dir, "push", writeEvent(t, "push", map[string]any{"before": before, "after": after, "ref": "refs/heads/feature"}))
	res = runAction(t, cfg)
	if res.code != ExitOK || len(gh2.requests()) != 0 || !strings.Contains(res.stdout, "not the default branch") {
		t.Fatalf("exit %d, requests %v\n%s", res.code, gh2.requests(), res.stdout)
	}
}

// withOrigin pushes the workspace's main to a new bare repository and
// makes it the workspace's origin.
func withOrigin(t *testing.T, r *testRepo) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := git.PlainInit(dir, true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{dir}}); err != nil {
		t.Fatal(err)
	}
	if err := r.repo.Push(&git.PushOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/main"}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDispatchRollbackOpensRevertPR(t *testing.T) {
	gh := newFakeGitHub(t)
	r := newTestRepo(t)
	files := fixture(t, "http://127.0.0.1:9999")
	r.commit("Add the fraud and search models", files)
	promote := r.commit("Promote fraud v8 to production", map[string]*string{
		"rollouts/fraud.hcl": ptr(strings.Replace(*files["rollouts/fraud.hcl"], `serve  = "v7"`, `serve  = "v8"`, 1)),
	})
	later := r.commit("Add recs", map[string]*string{"rollouts/recs.hcl": ptr(recsSpec)})
	r.branch("main", later)
	origin := withOrigin(t, r)

	cfg := baseConfig(t, gh, r.dir, "workflow_dispatch", writeEvent(t, "workflow_dispatch", nil))
	res := runAction(t, cfg)
	if res.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if len(gh.pulls) != 1 {
		t.Fatalf("pull requests: %v", gh.pulls)
	}
	pr := gh.pulls[0]
	head, _ := pr["head"].(string)
	if pr["base"] != "main" || !strings.HasPrefix(head, "switchyard/rollback-fraud-production-") ||
		pr["title"] != `Revert "Promote fraud v8 to production"` {
		t.Fatalf("pull request %v", pr)
	}
	body, _ := pr["body"].(string)
	for _, w := range []string{"This reverts commit " + promote, "fraud/production rolled back from v8 to v7", "Switchyard-Action: rollback", "Switchyard-Reverts: " + promote} {
		if !strings.Contains(body, w) {
			t.Errorf("body lacks %q:\n%s", w, body)
		}
	}
	if !strings.Contains(res.outputs, "pull-request=https://github.com/octo-org/models/pull/101\n") {
		t.Errorf("outputs: %s", res.outputs)
	}

	// The branch is on origin: serve is back to v7, the later commit kept.
	o, err := git.PlainOpen(origin)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := o.Reference(plumbing.NewBranchReferenceName(head), true)
	if err != nil {
		t.Fatalf("branch %s not pushed: %v", head, err)
	}
	c, _ := o.CommitObject(ref.Hash())
	if c.ParentHashes[0].String() != later {
		t.Errorf("revert's parent %s, want main's head %s", c.ParentHashes[0], later)
	}
	src := fileIn(t, c, "rollouts/fraud.hcl")
	if src != *files["rollouts/fraud.hcl"] {
		t.Errorf("fraud.hcl after the revert:\n%s", src)
	}
	if fileIn(t, c, "rollouts/recs.hcl") != recsSpec {
		t.Errorf("the later commit's file is lost")
	}
}

func fileIn(t *testing.T, c *object.Commit, path string) string {
	t.Helper()
	f, err := c.File(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s, _ := f.Contents()
	return s
}

// A push whose specs do not load records nothing and fails the job.
func TestPushInvalidSpec(t *testing.T) {
	gh := newFakeGitHub(t)
	r := newTestRepo(t)
	files := fixture(t, "http://127.0.0.1:9999")
	before := r.commit("base", files)
	after := r.commit("broken", map[string]*string{
		"rollouts/fraud.hcl": ptr(strings.Replace(*files["rollouts/fraud.hcl"], `serve  = "v7"`, `serve  = "v99"`, 1)),
	})
	res := runAction(t, baseConfig(t, gh, r.dir, "push", writeEvent(t, "push", map[string]any{"before": before, "after": after})))
	if res.code != ExitFailed || len(gh.deployments) != 0 {
		t.Fatalf("exit %d, deployments %v\n%s", res.code, gh.deployments, res.stdout)
	}
	if !strings.Contains(res.stdout, "::error file=rollouts/fraud.hcl,line=") || !strings.Contains(res.outputs, "valid=false\n") {
		t.Fatalf("stdout:\n%s\noutputs:\n%s", res.stdout, res.outputs)
	}
}

// A push whose promoted version fails its offline validation fails the
// job and notes the failure on the pushed commit, where the reconciler
// looks; the deployments still record what Git now asks for.
func TestPushValidationFails(t *testing.T) {
	model := fraudModel(t, 2)
	gh := newFakeGitHub(t)
	r := newTestRepo(t)
	files := fixture(t, model.URL)
	before := r.commit("base", files)
	after := r.commit("promote v8 straight to main", map[string]*string{
		"rollouts/fraud.hcl": ptr(strings.Replace(*files["rollouts/fraud.hcl"], `serve  = "v7"`, `serve  = "v8"`, 1)),
	})
	res := runAction(t, baseConfig(t, gh, r.dir, "push", writeEvent(t, "push", map[string]any{"before": before, "after": after})))
	if res.code != ExitFailed || !strings.Contains(res.outputs, "valid=false\n") {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.outputs)
	}
	line, _ := lineOf(t, *files["rollouts/fraud.hcl"], "validation {")
	if !strings.Contains(res.stdout, fmt.Sprintf("::error file=rollouts/fraud.hcl,line=%d,", line)) || !strings.Contains(res.summary, "❌ `v8`: accuracy 0.5") {
		t.Fatalf("stdout:\n%s\nsummary:\n%s", res.stdout, res.summary)
	}
	lines := ghnotestest.Lines(gh.notes()[after])
	if len(lines) != 1 || verdictOf(t, lines[0], after)["passed"] != false {
		t.Fatalf("notes: %v", gh.notes())
	}
	if len(gh.deployments) != 1 {
		t.Fatalf("deployments: %v", gh.deployments)
	}
}
