package gitops

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/rollout"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

const badSHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"

// TestMessageGolden pins every kind of commit message to SPEC.md §6.
func TestMessageGolden(t *testing.T) {
	reason := `check "errors" failed: error_rate 0.052 > max 0.01 at step 2 of 4 (25% traffic), 3 of 3 measurements.`
	base := rollout.WriteCommit{Model: "fraud", Stage: "production", File: fraudFile, Reason: reason}
	with := func(a Action, from, to string) rollout.WriteCommit {
		o := base
		o.Kind, o.From, o.To = a, from, to
		return o
	}
	tests := []struct {
		name string
		o    rollout.WriteCommit
		rev  *revertInfo
	}{
		{"rollback_revert", with(ActionRollback, "v8", "v7"), &revertInfo{sha: badSHA, title: "promote fraud v8", clean: true}},
		{"rollback_revert_of_revert", with(ActionRollback, "v8", "v7"), &revertInfo{sha: badSHA, title: `Revert "Revert "promote fraud v8""`, clean: true}},
		{"rollback_edit", with(ActionRollback, "v8", "v7"), &revertInfo{sha: badSHA, title: "promote fraud v8", why: "rollouts/fraud.hcl changed since"}},
		{"fallback", with(ActionFallback, "v8", "rules"), nil},
		{"roll_through", with(ActionRollThrough, "v8", "v9"), nil},
		{"promote", func() rollout.WriteCommit {
			o := with(ActionPromote, "v7", "v8")
			o.Reason = "v8 beat v7 on feedback: 0.121 vs 0.104 (always-valid p = 0.003, 2 x 12000 samples)."
			return o
		}(), nil},
		{"promote_control", func() rollout.WriteCommit {
			o := with(ActionPromote, "v7", "v7")
			o.Reason = "v7 (control) beats every other variant, always-valid p = 0.004 < alpha 0.05."
			return o
		}(), nil},
		{"conclude", func() rollout.WriteCommit {
			o := with(ActionConclude, "v7", "v7")
			o.Reason = "no winner after 20000 samples per variant (always-valid p = 0.41)."
			return o
		}(), nil},
		{"no_reason", with(ActionFallback, "v8", "rules"), nil},
	}
	tests[len(tests)-1].o.Reason = ""
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := message(tc.o, tc.rev)
			goldenFile(t, filepath.Join("testdata", "messages", tc.name+".txt"), got)
			tr := Trailers(got)
			if tr[TrailerAction] != string(tc.o.Kind) || tr[TrailerModel] != "fraud/production" {
				t.Fatalf("trailers %v", tr)
			}
			if (tr[TrailerReverts] != "") != (tc.o.Kind == ActionRollback) {
				t.Fatalf("Switchyard-Reverts is for rollbacks only: %v", tr)
			}
		})
	}
}

func TestOutcomeValidate(t *testing.T) {
	for _, o := range []rollout.WriteCommit{
		{Kind: "explode", Model: "a", Stage: "b", File: "f", To: "v1"},
		{Kind: ActionRollback, Model: "a", Stage: "b", File: "f"},
		{Kind: ActionConclude, Model: "a", File: "f"},
	} {
		if err := validate(o); err == nil {
			t.Errorf("validate(%+v): want error", o)
		}
	}
}

// TestPullRequestTextGolden pins the pull request `--push pr` opens for
// each kind of outcome; its description ends with the commit's trailers, so
// that a squash with the description as its message keeps them.
func TestPullRequestTextGolden(t *testing.T) {
	for _, name := range []string{"rollback_revert", "fallback", "promote", "conclude"} {
		t.Run(name, func(t *testing.T) {
			msg, err := os.ReadFile(filepath.Join("testdata", "messages", name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			tr := Trailers(string(msg))
			model, stage, _ := cutKey(tr[TrailerModel])
			title, body := pullRequestText(rollout.WriteCommit{Kind: Action(tr[TrailerAction]), Model: model, Stage: stage}, string(msg))
			goldenFile(t, filepath.Join("testdata", "pull_requests", name+".md"), "# "+title+"\n\n"+body)
			squash := title + "\n\n" + body // "Pull request title and description"
			if st := Trailers(squash); len(st) != len(tr) || st[TrailerAction] != tr[TrailerAction] || st[TrailerModel] != tr[TrailerModel] || st[TrailerReverts] != tr[TrailerReverts] {
				t.Fatalf("a squash with the description as its message has trailers %v, want %v", st, tr)
			}
		})
	}
}

// goldenFile compares got with the file at path (written by -update).
func goldenFile(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs:\n%s\nwant:\n%s", path, got, want)
	}
}
