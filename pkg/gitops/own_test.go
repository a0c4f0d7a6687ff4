package gitops

import (
	"context"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
)

// prSetup opens a clone that writes outcomes as pull requests, promotes
// v8 and has the reconciler open its rollback pull request; it returns
// the branch the pull request is from.
func prSetup(t *testing.T) (*gittest.Server, *Repo, string) {
	srv, r, branch, _ := prSetupGitHub(t)
	return srv, r, branch
}

// prSetupGitHub is prSetup that also returns the fake GitHub, which saw
// the pull request opened.
func prSetupGitHub(t *testing.T) (*gittest.Server, *Repo, string, *gittest.Pulls) {
	t.Helper()
	srv, r, pulls, _ := proposedRollback(t)
	return srv, r, rollbackBranch, pulls
}

func recognise(t *testing.T, r *Repo) (*OwnOutcome, string) {
	t.Helper()
	mustFetch(t, r)
	own, why, err := r.RecogniseOutcome(context.Background(), "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	return own, why
}

// The reconciler's pull request, merged in each of GitHub's three ways
// after someone else pushed to main meanwhile (another file, or another
// line of the model's file), is its own outcome.
func TestRecogniseMergedPullRequest(t *testing.T) {
	meanwhile := map[string]map[string]string{
		"another file":  {"README.md": "specs, documented\n"},
		"the same file": {fraudFile: strings.Replace(setServe(fraudSpec, "v8"), "# Fraud scoring.", "# Fraud scoring, by the risk team.", 1)},
	}
	for _, style := range []gittest.MergeStyle{gittest.MergeCommit, gittest.Squash, gittest.Rebase, "squash with the description"} {
		for what, files := range meanwhile {
			t.Run(string(style)+", "+what, func(t *testing.T) {
				recogniseMerged(t, style, files)
			})
		}
	}
}

// recogniseMerged has the reconciler open its rollback pull request,
// someone push meanwhile to main, the pull request merged by style, and
// checks that the merged head is the reconciler's rollback.
func recogniseMerged(t *testing.T, style gittest.MergeStyle, meanwhile map[string]string) {
	t.Helper()
	srv, r, branch, fake := prSetupGitHub(t)
	srv.CommitAs("specs", "meanwhile", meanwhile)
	msg := ""
	if style == "squash with the description" {
		// The repository's squash setting "Pull request title and
		// description".
		p := fake.All()[0]
		msg = p.Title + " (#1)\n\n" + p.Body
		style = gittest.Squash
	}
	head := srv.MergePullRequest("specs", branch, 1, style, msg)
	own, why := recognise(t, r)
	if own == nil {
		t.Fatalf("merged by %s: not recognised: %s\n%s", style, why, srv.Git("specs", "log", "-3", "--format=%H %P%n%B"))
	}
	want := OwnOutcome{Action: ActionRollback, Model: "fraud", Stage: "production", From: "v8", To: "v7",
		Carrier: head, Merged: style == gittest.MergeCommit}
	if want.Merged {
		want.Carrier = strings.TrimSpace(srv.Git("specs", "rev-parse", head+"^2"))
	}
	if *own != want {
		t.Fatalf("own = %+v, want %+v", *own, want)
	}
}

// A pull request a person changed before merging is judged as a person's
// commit, however the change was made and whatever the message says.
func TestRecogniseEditedPullRequest(t *testing.T) {
	readme := map[string]string{"README.md": "specs, and an unrelated change\n"}
	sameFile := map[string]string{fraudFile: strings.Replace(fraudSpec, "http://127.0.0.1:9103", "http://10.0.0.9:9103", 1)}
	tests := []struct {
		name  string
		style gittest.MergeStyle
		edit  func(srv *gittest.Server, branch string)
		// keep: the merge message keeps the reconciler's trailers.
		keep    bool
		wantWhy string
	}{
		{"merge, commit added", gittest.MergeCommit, func(srv *gittest.Server, b string) {
			srv.CommitOnBranch("specs", b, "also this", readme)
		}, false, ""},
		{"merge, commit amended", gittest.MergeCommit, func(srv *gittest.Server, b string) {
			srv.AmendOnBranch("specs", b, readme)
		}, false, "README.md"},
		{"squash, commit added, trailers kept", gittest.Squash, func(srv *gittest.Server, b string) {
			srv.CommitOnBranch("specs", b, "also this", readme)
		}, true, "README.md"},
		{"squash, same file", gittest.Squash, func(srv *gittest.Server, b string) {
			srv.CommitOnBranch("specs", b, "point v8 elsewhere", sameFile)
		}, true, fraudFile},
		{"rebase, commit amended", gittest.Rebase, func(srv *gittest.Server, b string) {
			srv.AmendOnBranch("specs", b, sameFile)
		}, false, fraudFile},
		{"rebase, commit added", gittest.Rebase, func(srv *gittest.Server, b string) {
			srv.CommitOnBranch("specs", b, "also this", readme)
		}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, r, branch := prSetup(t)
			msg := ""
			if tc.keep {
				msg = srv.Git("specs", "log", "-1", "--format=%B", "refs/heads/"+branch)
			}
			tc.edit(srv, branch)
			srv.MergePullRequest("specs", branch, 7, tc.style, msg)
			own, why := recognise(t, r)
			if own != nil {
				t.Fatalf("recognised %+v", *own)
			}
			if tc.wantWhy == "" && why != "" || tc.wantWhy != "" && !strings.Contains(why, "its tree differs") || !strings.Contains(why, tc.wantWhy) {
				t.Fatalf("why = %q, want it to name %q", why, tc.wantWhy)
			}
		})
	}
}

// Every outcome the reconciler pushes itself is its own; a person's commit
// that copies the trailers onto another change is not.
func TestRecogniseOutcomes(t *testing.T) {
	full := strings.Replace(fraudSpec, "    steps    = [5, 25, 50]\n", `    steps    = [5, 25, 50]
    fallback = "rules"
  }

  experiment {
    method   = "ab"
    variants = { v7 = 50, v8 = 50 }
`, 1)
	rolling := strings.Replace(fraudSpec, "    steps    = [5, 25, 50]\n", `    steps    = [5, 25, 50]
    on_failure   = "roll_through"
    roll_through = "v9"
`, 1)
	rolling = strings.Replace(rolling, `  version "rules"`, `  version "v9" { url = "http://127.0.0.1:9104" }
  version "rules"`, 1)
	outcomes := []struct {
		start string
		o     rollout.WriteCommit
	}{
		{setServe(fraudSpec, "v8"), rollback()},
		{setServe(full, "v8"), rollout.WriteCommit{Kind: ActionFallback, From: "v8", To: "rules"}},
		{setServe(rolling, "v8"), rollout.WriteCommit{Kind: ActionRollThrough, From: "v8", To: "v9"}},
		{full, rollout.WriteCommit{Kind: ActionPromote, From: "v7", To: "v8"}},
		{full, rollout.WriteCommit{Kind: ActionConclude, From: "v7", To: "v7"}},
	}
	for _, tc := range outcomes {
		t.Run(string(tc.o.Kind), func(t *testing.T) {
			srv, r, _ := setup(t)
			srv.CommitAs("specs", "start", map[string]string{fraudFile: tc.start})
			o := tc.o
			o.Model, o.Stage, o.File = "fraud", "production", fraudFile
			w, err := r.WriteOutcomeDetail(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			own, why := recognise(t, r)
			if own == nil || own.Action != o.Kind || own.Carrier != w.SHA || own.From != o.From || own.To != o.To || own.Merged {
				t.Fatalf("own = %+v (%s), want %s %s→%s by %s", own, why, o.Kind, o.From, o.To, w.SHA)
			}
		})
	}

	forged := []struct {
		name, start, end, action, why string
	}{
		{"fallback to a version", setServe(full, "v8"), setServe(full, "v7"), "fallback", `the rollout's fallback "rules", this serves "v7"`},
		{"roll-through elsewhere", setServe(rolling, "v8"), setServe(rolling, "v7"), "roll_through", `roll_through "v9", this serves "v7"`},
		{"promote a stranger", full, setServe(full, "rules"), "promote", `variants [v7 v8], this serves "rules"`},
		{"conclude that promotes", full, setServe(strings.Replace(full, "experiment {", "dropped {", 1), "v8"), "conclude", `keeps serve "v7"`},
		{"rollback that keeps serve", setServe(fraudSpec, "v8"), setServe(fraudSpec, "v8") + "\n", "rollback", `keeps "v8"`},
		{"rollback with more", setServe(fraudSpec, "v8"), strings.Replace(fraudSpec, "canary", "all_at_once", 1), "rollback", "its tree differs"},
		{"another model", fraudSpec, setServe(fraudSpec, "v8"), "rollback", `model "churn" "production"`},
		{"unknown action", fraudSpec, setServe(fraudSpec, "v8"), "restart", `unknown action "restart"`},
	}
	for _, tc := range forged {
		t.Run("forged "+tc.name, func(t *testing.T) {
			srv, r, _ := setup(t)
			if tc.start != fraudSpec {
				srv.CommitAs("specs", "start", map[string]string{fraudFile: tc.start})
			}
			model := "fraud/production"
			if tc.name == "another model" {
				model = "churn/production"
			}
			srv.CommitAs("specs", "Looks like the reconciler\n\nSwitchyard-Action: "+tc.action+"\nSwitchyard-Model: "+model,
				map[string]string{fraudFile: tc.end})
			own, why := recognise(t, r)
			if own != nil || !strings.Contains(why, tc.why) || !strings.HasPrefix(why, "it carries Switchyard-Action: "+tc.action+" but is not the reconciler's outcome: ") {
				t.Fatalf("own = %+v, why = %q, want it to say %q", own, why, tc.why)
			}
		})
	}

	t.Run("a person's commit", func(t *testing.T) {
		srv, r, _ := setup(t)
		promote(t, srv)
		if own, why := recognise(t, r); own != nil || why != "" {
			t.Fatalf("own = %+v, why = %q", own, why)
		}
	})
}
