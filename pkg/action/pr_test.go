package action

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/notes/ghnotes/ghnotestest"
)

// prRepo is a workspace with a base commit (the fixture) and a PR head
// commit made by edit; HEAD is detached at the head.
type prRepo struct {
	*testRepo
	base, head string
	headFiles  map[string]*string
}

func newPRRepo(t *testing.T, modelURL string, edit func(files map[string]*string)) *prRepo {
	r := newTestRepo(t)
	files := fixture(t, modelURL)
	base := r.commit("Add the fraud and search models", files)
	r.branch("main", base)
	changed := map[string]*string{"rollouts/fraud.hcl": ptr(strings.Replace(*files["rollouts/fraud.hcl"], `serve  = "v7"`, `serve  = "v8"`, 1))}
	if edit != nil {
		edit(changed)
	}
	head := r.commit("Promote fraud v8 to production", changed)
	r.checkout(head)
	all := map[string]*string{}
	for k, v := range files {
		all[k] = v
	}
	for k, v := range changed {
		all[k] = v
	}
	return &prRepo{testRepo: r, base: base, head: head, headFiles: all}
}

func prEventFile(t testing.TB, name, base, head string) string {
	return writeEvent(t, name, map[string]any{"pull_request.base.sha": base, "pull_request.head.sha": head})
}

// lineOf is the 1-based line and column of the first occurrence of s.
func lineOf(t *testing.T, src, s string) (int, int) {
	t.Helper()
	i := strings.Index(src, s)
	if i < 0 {
		t.Fatalf("%q not in source", s)
	}
	line := strings.Count(src[:i], "\n") + 1
	col := i - strings.LastIndex(src[:i], "\n")
	return line, col
}

// shadowNote is what the reconciler writes (rollout.RecordVerdict as JSON Lines).
const shadowNote = `{"kind":"rollout","model":"fraud","stage":"production","payload":{"version":"v7","from":"v6","strategy":"canary","outcome":"succeeded"}}
{"kind":"shadow","model":"fraud","stage":"production","payload":{"version":"v8","passed":true,"agreement":0.991,"lower":0.985,"upper":0.995,"samples":1200,"min_agreement":0.98,"errors":0}}
`

func TestPullRequestStickyComment(t *testing.T) {
	model := fraudModel(t, 0)
	gh := newFakeGitHub(t)
	gh.seedComments(130) // the plan comment lands on page 2 of 100
	r := newPRRepo(t, model.URL, nil)
	r.addNote(r.base, shadowNote)
	repl := map[string]string{commitid.Short(r.base): "BASE", model.URL: "MODEL_URL"}

	// opened: the comment is created.
	cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head))
	res := runAction(t, cfg)
	if res.code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	plans := gh.planComments()
	if len(plans) != 1 || !strings.HasPrefix(plans[0].Body, Marker+"\n") {
		t.Fatalf("want one plan comment, got %d", len(plans))
	}
	firstID := plans[0].ID
	repl[commitid.Short(r.head)] = "HEAD"
	golden(t, "opened.comment.md", normalize(plans[0].Body, repl))
	golden(t, "opened.summary.md", normalize(res.summary, repl))
	for _, want := range []string{"valid=true\n", `changes=[{"model":"fraud","stage":"production"`, "plan<<SWITCHYARD_EOF\n## ✅ Switchyard", "\nSWITCHYARD_EOF\n"} {
		if !strings.Contains(res.outputs, want) {
			t.Errorf("outputs lack %q:\n%s", want, res.outputs)
		}
	}
	if len(gh.checkReqs) != 1 || gh.checkReqs[0]["status"] != "completed" || gh.checkReqs[0]["conclusion"] != "success" || gh.checkReqs[0]["head_sha"] != r.head {
		t.Fatalf("check run requests: %v", gh.checkReqs)
	}
	wantReqs := []string{
		// The validation verdict is noted on the head first: a new notes ref.
		"GET /repos/octo-org/models/git/ref/notes/switchyard", "POST /repos/octo-org/models/git/blobs",
		"POST /repos/octo-org/models/git/trees", "POST /repos/octo-org/models/git/commits", "POST /repos/octo-org/models/git/refs",
		"GET /repos/octo-org/models/issues/42/comments", "GET /repos/octo-org/models/issues/42/comments",
		"POST /repos/octo-org/models/issues/42/comments", "POST /repos/octo-org/models/check-runs",
	}
	if got := gh.requests(); strings.Join(got, "\n") != strings.Join(wantReqs, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantReqs, "\n"))
	}

	notesC, notesT := gh.notesHead()

	// synchronize: a second commit on the branch; the comment is edited.
	src := *r.headFiles["rollouts/fraud.hcl"]
	head2 := r.commit("Bake longer", map[string]*string{"rollouts/fraud.hcl": ptr(strings.Replace(src, `bake     = "1m"`, `bake     = "2m"`, 1))})
	r.checkout(head2)
	ev := writeEvent(t, "pull_request.synchronize", map[string]any{"pull_request.base.sha": r.base, "pull_request.head.sha": head2, "after": head2, "before": r.head})
	cfg = baseConfig(t, gh, r.dir, "pull_request", ev)
	res = runAction(t, cfg)
	if res.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	plans = gh.planComments()
	if len(plans) != 1 || plans[0].ID != firstID {
		t.Fatalf("want the same single plan comment %d, got %d comments", firstID, len(plans))
	}
	if !strings.Contains(plans[0].Body, "2m bake each") || !strings.Contains(plans[0].Body, commitid.Short(head2)) {
		t.Fatalf("comment not updated:\n%s", plans[0].Body)
	}
	got := gh.requests()[len(wantReqs):]
	want := []string{
		// The new head's note joins the first one in the existing notes ref.
		"GET /repos/octo-org/models/git/ref/notes/switchyard", "GET /repos/octo-org/models/git/commits/" + notesC,
		"GET /repos/octo-org/models/git/trees/" + notesT, "POST /repos/octo-org/models/git/blobs",
		"POST /repos/octo-org/models/git/trees", "POST /repos/octo-org/models/git/commits", "PATCH /repos/octo-org/models/git/refs/notes/switchyard",
		"GET /repos/octo-org/models/issues/42/comments", "GET /repos/octo-org/models/issues/42/comments",
		fmt.Sprintf("PATCH /repos/octo-org/models/issues/comments/%d", firstID), "POST /repos/octo-org/models/check-runs",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("second run requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	notes := gh.notes()
	if len(notes) != 2 || len(ghnotestest.Lines(notes[r.head])) != 1 || len(ghnotestest.Lines(notes[head2])) != 1 {
		t.Fatalf("notes: %v", notes)
	}
}

func TestPullRequestCannotWeakenPolicy(t *testing.T) {
	model := fraudModel(t, 0)
	gh := newFakeGitHub(t)
	r := newPRRepo(t, model.URL, func(files map[string]*string) {
		src := *files["rollouts/fraud.hcl"]
		src = strings.Replace(src, `strategy = "canary"`, `strategy = "all_at_once"`, 1)
		src = strings.Replace(src, "    steps    = [5, 25, 50]\n", "", 1)
		files["rollouts/fraud.hcl"] = &src
		// The same change guts the policies: they must still judge it.
		files["policies/rules.rego"] = ptr("package switchyard\n\n# nothing to see here\n")
		files["policies/allow.rego"] = ptr("package switchyard\n\nallow := true\n")
	})
	cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head))
	res := runAction(t, cfg)
	if res.code != ExitFailed {
		t.Fatalf("exit %d, want %d (denied)\n%s\n%s", res.code, ExitFailed, res.stdout, res.stderr)
	}
	body := gh.planComments()[0].Body
	if !strings.Contains(body, "canary_in_production") || !strings.Contains(body, "❌ Switchyard: this change is blocked") {
		t.Fatalf("comment lacks the denial:\n%s", body)
	}
	golden(t, "denied.comment.md", normalize(body, map[string]string{commitid.Short(r.base): "BASE", commitid.Short(r.head): "HEAD"}))
	if !strings.Contains(res.outputs, "valid=false\n") {
		t.Errorf("outputs: %s", res.outputs)
	}
	run := gh.checkRuns[lastKey(gh)]
	if run == nil || run.Conclusion != "failure" {
		t.Fatalf("check run %+v", run)
	}
	line, col := lineOf(t, *r.headFiles["rollouts/fraud.hcl"], `strategy = "all_at_once"`)
	found := false
	for _, a := range run.Annotations {
		if a["path"] == "rollouts/fraud.hcl" && a["start_line"] == float64(line) && a["start_column"] == float64(col) && a["annotation_level"] == "failure" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no failure annotation at rollouts/fraud.hcl:%d:%d: %v", line, col, run.Annotations)
	}
}

func lastKey(g *fakeGitHub) int64 {
	var k int64
	for id := range g.checkRuns {
		k = max(k, id)
	}
	return k
}

func TestPullRequestOfflineValidationFails(t *testing.T) {
	tests := []struct {
		name    string
		url     func(t *testing.T) string
		timeout time.Duration
		want    []string
	}{
		{"under threshold", func(t *testing.T) string { return fraudModel(t, 2).URL }, 2 * time.Second,
			[]string{"❌ `v8`: accuracy 0.5 (want ≥ 0.9)", "accuracy 0.5 &lt; min 0.9", "validation_passed", "v8 failed its offline validation"}},
		{"times out", func(t *testing.T) string { return hangingModel(t).URL }, 100 * time.Millisecond,
			[]string{"20 samples", "not sent", "no answer within 100ms", "stopped after", "validation_passed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url(t)
			gh := newFakeGitHub(t)
			r := newPRRepo(t, url, nil)
			cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head))
			cfg.ValidationTimeout = tc.timeout
			res := runAction(t, cfg)
			if res.code != ExitFailed {
				t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			body := gh.planComments()[0].Body
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("comment lacks %q:\n%s", w, body)
				}
			}
			line, _ := lineOf(t, *r.headFiles["rollouts/fraud.hcl"], "validation {")
			found := false
			for _, a := range gh.checkRuns[lastKey(gh)].Annotations {
				if a["start_line"] == float64(line) && strings.Contains(a["title"].(string), "Offline validation of v8") {
					found = true
				}
			}
			if !found {
				t.Errorf("no annotation on the validation block (line %d): %v", line, gh.checkRuns[lastKey(gh)].Annotations)
			}
		})
	}
}

func TestPullRequestAnnotationBatches(t *testing.T) {
	model := fraudModel(t, 0)
	gh := newFakeGitHub(t)
	r := newTestRepo(t)
	files := fixture(t, model.URL)
	files["policies/rules.rego"] = ptr(`package switchyard

warn contains {"msg": sprintf("note %d", [i]), "model": "fraud", "stage": "production", "field": "serve", "rule": "many"} if {
	some i in numbers.range(1, 120)
}
`)
	base := r.commit("base", files)
	head := r.commit("promote", map[string]*string{"rollouts/fraud.hcl": ptr(strings.Replace(*files["rollouts/fraud.hcl"], `serve  = "v7"`, `serve  = "v8"`, 1))})
	cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", base, head))
	cfg.OfflineValidation = false
	res := runAction(t, cfg)
	if res.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	var sizes []int
	for _, req := range gh.checkReqs {
		out, _ := req["output"].(map[string]any)
		anns, _ := out["annotations"].([]any)
		sizes = append(sizes, len(anns))
	}
	if fmt.Sprint(sizes) != "[50 50 20]" {
		t.Fatalf("annotation batches %v, want [50 50 20]", sizes)
	}
	if gh.checkReqs[0]["status"] != "in_progress" || gh.checkReqs[2]["status"] != "completed" || gh.checkReqs[2]["conclusion"] != "success" {
		t.Fatalf("statuses: %v / %v %v", gh.checkReqs[0]["status"], gh.checkReqs[2]["status"], gh.checkReqs[2]["conclusion"])
	}
	if n := len(gh.checkRuns[lastKey(gh)].Annotations); n != 120 {
		t.Fatalf("%d annotations recorded, want 120", n)
	}

	// fail-on-warn turns the warnings into a failure.
	cfg.FailOnWarn = true
	if res := runAction(t, cfg); res.code != ExitFailed {
		t.Fatalf("fail-on-warn: exit %d", res.code)
	}
	if got := gh.checkReqs[len(gh.checkReqs)-1]["conclusion"]; got != "neutral" {
		t.Fatalf("fail-on-warn conclusion %v, want neutral", got)
	}
}

func TestPullRequestCheckRunForbidden(t *testing.T) {
	for _, status := range []int{403, 404} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			model := fraudModel(t, 0)
			gh := newFakeGitHub(t)
			gh.checkStatus = status
			r := newPRRepo(t, model.URL, func(files map[string]*string) {
				src := strings.Replace(*files["rollouts/fraud.hcl"], `strategy = "canary"`, `strategy = "blue_green"`, 1)
				files["rollouts/fraud.hcl"] = &src
			})
			cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head))
			res := runAction(t, cfg)
			if res.code != ExitFailed {
				t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			line, col := lineOf(t, *r.headFiles["rollouts/fraud.hcl"], `strategy = "blue_green"`)
			want := fmt.Sprintf("::error file=rollouts/fraud.hcl,line=%d,col=%d,", line, col)
			if !strings.Contains(res.stdout, want) || !strings.Contains(res.stdout, "production changes roll out as a canary") {
				t.Fatalf("stdout lacks %q:\n%s", want, res.stdout)
			}
			if !strings.Contains(res.stdout, "grant `checks: write`") {
				t.Errorf("no hint about the permission:\n%s", res.stdout)
			}
			if len(gh.planComments()) != 1 {
				t.Errorf("the comment is still posted")
			}
		})
	}
}

// A pull request from a fork gets a read-only token: no comment, no check
// run, but the verdict, the workflow-command annotations and the summary.
func TestPullRequestReadOnlyToken(t *testing.T) {
	model := fraudModel(t, 0)
	gh := newFakeGitHub(t)
	gh.checkStatus, gh.commentStatus, gh.git.WriteStatus = 403, 403, 403
	r := newPRRepo(t, model.URL, nil)
	res := runAction(t, baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head)))
	if res.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	for _, w := range []string{"::warning title=switchyard::cannot comment on #42", "::warning file=rollouts/fraud.hcl,line=18,",
		"::warning title=switchyard::The offline validation verdict of " + commitid.Short(r.head) + " was not recorded"} {
		if !strings.Contains(res.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, res.stdout)
		}
	}
	if !strings.Contains(res.summary, "⚠️ Switchyard: this change may merge, with 1 warning") {
		t.Errorf("summary:\n%s", res.summary)
	}
}

// actions/checkout checks out the merge of the pull request into its base
// (refs/pull/N/merge). The action judges that merge, so changes merged to
// the base since the branch was cut are not mistaken for the PR's, and puts
// the check run on the PR's head commit.
func TestPullRequestMergeCheckout(t *testing.T) {
	model := fraudModel(t, 0)
	gh := newFakeGitHub(t)
	r := newTestRepo(t)
	files := fixture(t, model.URL)
	base := r.commit("base", files)
	promoted := ptr(strings.Replace(*files["rollouts/fraud.hcl"], `serve  = "v7"`, `serve  = "v8"`, 1))
	head := r.commit("Promote fraud v8", map[string]*string{"rollouts/fraud.hcl": promoted})
	// Meanwhile main moves on: search serves s2.
	r.checkout(base)
	search := ptr(strings.Replace(*files["rollouts/search.hcl"], `serve  = "s1"`, `serve  = "s2"`, 1))
	base2 := r.commit("Promote search s2", map[string]*string{"rollouts/search.hcl": search})
	// The merge commit GitHub makes: first parent the base, second the head.
	wt, _ := r.repo.Worktree()
	os.WriteFile(filepath.Join(r.dir, "rollouts", "fraud.hcl"), []byte(*promoted), 0o644)
	wt.Add("rollouts/fraud.hcl")
	sig := &object.Signature{Name: "GitHub", Email: "noreply@github.com", When: r.when.Add(time.Minute)}
	merge, err := wt.Commit("Merge "+head+" into "+base2, &git.CommitOptions{Author: sig, Committer: sig,
		Parents: []plumbing.Hash{plumbing.NewHash(base2), plumbing.NewHash(head)}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", base2, head))
	cfg.OfflineValidation = false
	res := runAction(t, cfg)
	if res.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(res.outputs, `"model":"search"`) || !strings.Contains(res.outputs, `"model":"fraud","stage":"production"`) {
		t.Fatalf("changes: %s", res.outputs)
	}
	if !strings.Contains(res.summary, "head `"+commitid.Short(merge.String())+"`") {
		t.Errorf("the summary does not name the merge commit:\n%s", res.summary)
	}
	if got := gh.checkReqs[0]["head_sha"]; got != head {
		t.Fatalf("check run on %v, want the PR head %s", got, head)
	}
}

// A pull request that touches no model gets no comment, unless an earlier
// plan comment exists: then that one is brought up to date.
func TestPullRequestWithoutModelChanges(t *testing.T) {
	gh := newFakeGitHub(t)
	r := newTestRepo(t)
	files := fixture(t, "http://127.0.0.1:9999")
	base := r.commit("base", files)
	head := r.commit("Docs", map[string]*string{"README.md": ptr("# models\n")})
	cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", base, head))
	res := runAction(t, cfg)
	if res.code != ExitOK || len(gh.planComments()) != 0 {
		t.Fatalf("exit %d, %d plan comments\n%s", res.code, len(gh.planComments()), res.stderr)
	}
	if !strings.Contains(res.summary, "✅ Switchyard: no model changes") || !strings.Contains(res.outputs, "changes=[]\n") {
		t.Fatalf("summary:\n%s\noutputs:\n%s", res.summary, res.outputs)
	}
	gh.comments = append(gh.comments, &fakeComment{ID: 7, Body: Marker + "\nan old plan"})
	if res := runAction(t, cfg); res.code != ExitOK {
		t.Fatalf("exit %d", res.code)
	}
	if p := gh.planComments(); len(p) != 1 || !strings.Contains(p[0].Body, "no model changes") {
		t.Fatalf("plan comments: %+v", p)
	}
}

// A head whose specs do not load is invalid (exit 1): the errors are
// annotated and listed, and policies are not evaluated on a broken tree.
func TestPullRequestInvalidSpec(t *testing.T) {
	gh := newFakeGitHub(t)
	r := newPRRepo(t, "http://127.0.0.1:9999", func(files map[string]*string) {
		src := strings.Replace(*files["rollouts/fraud.hcl"], `metric       = "error_rate"`, `metric       = "eror_rate"`, 1)
		files["rollouts/fraud.hcl"] = &src
	})
	cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head))
	cfg.ServerURL, cfg.RunID = "https://github.com", "7"
	res := runAction(t, cfg)
	if res.code != ExitFailed {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	body := gh.planComments()[0].Body
	for _, w := range []string{"### Problems", "policies not evaluated: the specs have errors", "eror_rate",
		"[this workflow run](https://github.com/octo-org/models/actions/runs/7)"} {
		if !strings.Contains(body, w) {
			t.Errorf("comment lacks %q:\n%s", w, body)
		}
	}
	line, _ := lineOf(t, *r.headFiles["rollouts/fraud.hcl"], `"eror_rate"`)
	anns := gh.checkRuns[lastKey(gh)].Annotations
	if len(anns) == 0 || anns[0]["start_line"] != float64(line) || anns[0]["annotation_level"] != "failure" {
		t.Fatalf("annotations %v, want a failure on line %d", anns, line)
	}
}

// A base without a policy directory has no policies; the change adding
// one does not make it judge itself.
func TestPullRequestBaseWithoutPolicies(t *testing.T) {
	gh := newFakeGitHub(t)
	r := newTestRepo(t)
	files := fixture(t, "http://127.0.0.1:9999")
	rules := files["policies/rules.rego"]
	delete(files, "policies/rules.rego")
	base := r.commit("base", files)
	head := r.commit("promote and add policies", map[string]*string{
		"rollouts/fraud.hcl":  ptr(strings.Replace(*files["rollouts/fraud.hcl"], `serve  = "v7"`, `serve  = "v8"`, 1)),
		"policies/rules.rego": rules,
	})
	cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", base, head))
	cfg.OfflineValidation = false
	res := runAction(t, cfg)
	if res.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if body := gh.planComments()[0].Body; !strings.Contains(body, "no `policies/` at the base commit, so no policies apply") || strings.Contains(body, "shadow_first") {
		t.Fatalf("comment:\n%s", body)
	}
}
