package gitops

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
)

func keeperSetup(t *testing.T) (*gittest.Server, *Repo, *gittest.Pulls) {
	t.Helper()
	pulls := gittest.NewPulls("acme", "specs", func() time.Time { return fixedNow })
	api := httptest.NewServer(pulls)
	t.Cleanup(api.Close)
	gh, err := NewGitHub(api.Client(), api.URL+"/", "ghp_test", "acme", "specs")
	if err != nil {
		t.Fatal(err)
	}
	srv, r, _ := setup(t, func(o *Options) { o.PullRequests = gh })
	t.Cleanup(func() {
		if errs := pulls.Errs(); len(errs) > 0 {
			t.Errorf("GitHub requests the fake does not know: %v", errs)
		}
	})
	return srv, r, pulls
}

// rollbackBranch is the branch rollback() is proposed on.
const rollbackBranch = "switchyard/fraud/production/rollback-v8-to-v7"

// proposedRollback is keeperSetup after someone promoted v8 and the
// reconciler proposed rollback() as pull request 1.
func proposedRollback(t *testing.T) (*gittest.Server, *Repo, *gittest.Pulls, Written) {
	t.Helper()
	srv, r, pulls := keeperSetup(t)
	promote(t, srv)
	w, err := r.WriteOutcomeDetail(context.Background(), rollback())
	if err != nil {
		t.Fatal(err)
	}
	return srv, r, pulls, w
}

// TestPushPullRequestOnePerOutcome: an outcome proposed again after main
// moved updates its open pull request (the branch force-pushed onto the
// new main, the same number and address, the title and description
// following the commit's message) instead of opening a second one. Closed
// by a person, the pull request is replaced by a new one it points to; a
// newer outcome for the model closes the older one, saying why.
func TestPushPullRequestOnePerOutcome(t *testing.T) {
	srv, r, pulls, first := proposedRollback(t)
	ctx := context.Background()
	branch := rollbackBranch
	if all := pulls.All(); len(all) != 1 || all[0].Head != branch || first.PullRequest != "https://github.com/acme/specs/pull/1" {
		t.Fatalf("pull requests %+v, written %+v", all, first)
	}

	// Someone edits the spec file: the rollback is now an edit of serve,
	// with another message, on the new main.
	moved := srv.CommitAs("specs", "fraud: say who owns it", map[string]string{
		fraudFile: strings.Replace(setServe(fraudSpec, "v8"), "# Fraud scoring.", "# Fraud scoring, owned by the risk team.", 1)})
	again, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil {
		t.Fatal(err)
	}
	all := pulls.All()
	if len(all) != 1 || all[0].State != "open" || again.PullRequest != first.PullRequest || again.SHA == first.SHA || again.Revert {
		t.Fatalf("after main moved: pull requests %+v, written %+v; want pull request 1 updated with an edit", all, again)
	}
	if got := strings.TrimSpace(srv.Git("specs", "rev-parse", "refs/heads/"+branch)); got != again.SHA {
		t.Fatalf("branch %s at %s, want the new commit %s", branch, got, again.SHA)
	}
	if parent := strings.TrimSpace(srv.Git("specs", "rev-parse", again.SHA+"^")); parent != moved {
		t.Fatalf("the new commit's parent is %s, want main's head %s", parent, moved)
	}
	if all[0].Title != "Roll back fraud/production from v8 to v7" || strings.Contains(all[0].Body, "This reverts commit") ||
		!strings.Contains(all[0].Body, reconcilerNote) {
		t.Fatalf("pull request 1 not updated to the new message: %q\n%s", all[0].Title, all[0].Body)
	}

	// A person deletes its branch, and GitHub closes it: the outcome
	// proposed again opens pull request 2 on the branch pushed anew, and
	// pull request 1 says where it went.
	srv.Git("specs", "branch", "-D", branch)
	pulls.Close(1)
	third, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(srv.Git("specs", "rev-parse", "refs/heads/"+branch)); got != third.SHA {
		t.Fatalf("branch %s at %s, want %s pushed again", branch, got, third.SHA)
	}
	all = pulls.All()
	if len(all) != 2 || all[1].State != "open" || all[1].Head != branch || third.PullRequest != "https://github.com/acme/specs/pull/2" {
		t.Fatalf("after pull request 1 was closed: %+v, written %+v", all, third)
	}
	if len(all[0].Comments) != 1 || len(all[1].Comments) != 0 {
		t.Fatalf("comments %q, %q; want one on pull request 1", all[0].Comments, all[1].Comments)
	}
	goldenFile(t, filepath.Join("testdata", "pull_requests", "reproposed_comment.md"), all[0].Comments[0])

	// A newer outcome for the same model (a fallback) closes pull request 2.
	fb := rollout.WriteCommit{Kind: ActionFallback, Model: "fraud", Stage: "production", File: fraudFile, From: "v8", To: "rules",
		Reason: `check "errors" failed twice; serving the heuristic.`}
	newer, err := r.WriteOutcomeDetail(ctx, fb)
	if err != nil {
		t.Fatal(err)
	}
	all = pulls.All()
	if open := pulls.Open(); len(open) != 1 || open[0].Number != 3 || open[0].Head != "switchyard/fraud/production/fallback-v8-to-rules" ||
		newer.PullRequest != "https://github.com/acme/specs/pull/3" || len(all[1].Comments) != 1 {
		t.Fatalf("after a newer outcome: %+v, written %+v", all, newer)
	}
	goldenFile(t, filepath.Join("testdata", "pull_requests", "superseded_comment.md"), all[1].Comments[0])

	// The model awaits yet another outcome, not proposed yet: the sweep
	// closes the fallback's pull request.
	if closed, err := r.CloseStalePullRequests(ctx, map[string]rollout.WriteCommit{"fraud/production": rollback()}, nil); err != nil || len(closed) != 1 || closed[0] != newer.PullRequest {
		t.Fatalf("closed %v, %v; want %s", closed, err, newer.PullRequest)
	}
	if all = pulls.All(); len(pulls.Open()) != 0 || len(all[2].Comments) != 1 {
		t.Fatalf("after a sweep awaiting the rollback: %+v", all)
	}
	goldenFile(t, filepath.Join("testdata", "pull_requests", "awaits_another_comment.md"), all[2].Comments[0])
	pulls.Reopen(3)

	// Git moves on without it (a person sets serve): the sweep closes it
	// with the caller's reason; an awaited outcome's pull request stays.
	if closed, err := r.CloseStalePullRequests(ctx, map[string]rollout.WriteCommit{"fraud/production": fb}, nil); err != nil || len(pulls.Open()) != 1 || len(closed) != 0 {
		t.Fatalf("the awaited outcome's pull request closed (%v): %+v", err, pulls.All())
	}
	if closed, err := r.CloseStalePullRequests(ctx, nil, func(string) string { return "" }); err != nil || len(closed) != 0 || len(pulls.Open()) != 1 {
		t.Fatalf("a model the caller does not follow: closed %v, %v", closed, err)
	}
	if _, err := r.CloseStalePullRequests(ctx, nil, func(key string) string { return "moot for " + key }); err != nil {
		t.Fatal(err)
	}
	all = pulls.All()
	if len(pulls.Open()) != 0 || len(all[2].Comments) != 2 || all[2].Comments[1] != "moot for fraud/production" {
		t.Fatalf("after the sweep: %+v", all)
	}
}

// Every outcome's branch is a valid ref name, whatever the version names
// (which may hold ".." or end with "." or ".lock"), and its model is read
// back from it.
func TestOutcomeBranch(t *testing.T) {
	for _, tc := range []struct {
		o    rollout.WriteCommit
		want string
	}{
		{rollback(), "switchyard/fraud/production/rollback-v8-to-v7"},
		{rollout.WriteCommit{Kind: ActionConclude, Model: "ranker", Stage: "eu-west", From: "v3", To: "v3"}, "switchyard/ranker/eu-west/conclude-v3"},
		{rollout.WriteCommit{Kind: ActionPromote, Model: "m.x", Stage: "prod", From: "1..2", To: "b.lock"}, "switchyard/m.x/prod/promote-1._2-to-b"},
		{rollout.WriteCommit{Kind: ActionFallback, Model: "m", Stage: "s", From: "a", To: "rules."}, "switchyard/m/s/fallback-a-to-rules"},
		{rollout.WriteCommit{Kind: ActionRollback, Model: "m.lock", Stage: "s.", From: "a", To: "b"}, "switchyard/m/s/rollback-a-to-b"},
	} {
		got := outcomeBranch(tc.o)
		if got != tc.want {
			t.Errorf("outcomeBranch(%+v) = %q, want %q", tc.o, got, tc.want)
		}
		if err := plumbing.NewBranchReferenceName(got).Validate(); err != nil {
			t.Errorf("%q is not a valid ref name: %v", got, err)
		}
		if key := modelOfBranch(got); modelBranchPrefix(key) != modelBranchPrefix(tc.o.Key()) {
			t.Errorf("modelOfBranch(%q) = %q, not %q's", got, key, tc.o.Key())
		}
	}
	for _, b := range []string{"switchyard/rollback-fraud-production-1a2b3c4", "feature/x", "switchyard/a/b"} {
		if key := modelOfBranch(b); key != "" {
			t.Errorf("modelOfBranch(%q) = %q, want none: not an outcome branch", b, key)
		}
	}
}

// Another clone (a new leader, or a fresh work directory) proposing the
// same outcome on the same head keeps the commit the pull request has, so
// its head and reviews stay as they are.
func TestPushPullRequestAnotherCloneKeepsTheCommit(t *testing.T) {
	srv, r, pulls, w := proposedRollback(t)
	ctx := context.Background()
	other, err := Open(ctx, Options{URL: srv.RepoURL("specs"), Dir: filepath.Join(t.TempDir(), "other"),
		Now: func() time.Time { return fixedNow.Add(time.Hour) }, PullRequests: r.opts.PullRequests})
	if err != nil {
		t.Fatal(err)
	}
	again, err := other.WriteOutcomeDetail(ctx, rollback())
	if err != nil || again.SHA != w.SHA || again.PullRequest != w.PullRequest || len(pulls.All()) != 1 {
		t.Fatalf("from another clone: %+v, %v; want %s in %s, the one pull request (%d)", again, err, w.SHA, w.PullRequest, len(pulls.All()))
	}
}

// A person's commit on the outcome's branch makes it theirs while its
// pull request is open: proposed again after main moved, the outcome
// leaves the branch as it is and names that pull request; once it is
// closed, the outcome is pushed and proposed anew.
func TestPushPullRequestLeavesAPersonsBranch(t *testing.T) {
	srv, r, pulls, first := proposedRollback(t)
	ctx := context.Background()
	branch := rollbackBranch
	theirs := srv.CommitOnBranch("specs", branch, "rollback: say why in the README", map[string]string{"README.md": "rolled back\n"})
	srv.CommitAs("specs", "docs", map[string]string{"README.md": "more\n"})
	again, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil || again.SHA != theirs || again.PullRequest != first.PullRequest {
		t.Fatalf("proposed again: %+v, %v; want their commit %s in %s", again, err, theirs, first.PullRequest)
	}
	if got := strings.TrimSpace(srv.Git("specs", "rev-parse", "refs/heads/"+branch)); got != theirs || len(pulls.All()) != 1 {
		t.Fatalf("branch at %s, want their %s; pull requests %+v", got, theirs, pulls.All())
	}
	pulls.Close(1)
	anew, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil || anew.SHA == theirs || anew.PullRequest != "https://github.com/acme/specs/pull/2" {
		t.Fatalf("after theirs was closed: %+v, %v", anew, err)
	}
}
