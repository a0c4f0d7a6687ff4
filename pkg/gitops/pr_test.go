package gitops

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
)

func TestPushPullRequest(t *testing.T) {
	srv, r, pulls := keeperSetup(t)
	pulls.Token = "ghp_test"
	ctx := context.Background()
	promote(t, srv)
	mainBefore := srv.Head("specs")
	w, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil {
		t.Fatal(err)
	}
	if w.PullRequest != "https://github.com/acme/specs/pull/1" || !w.Revert || !w.PullRequestCreated.Equal(fixedNow) {
		t.Fatalf("Written = %+v", w)
	}
	if srv.Head("specs") != mainBefore {
		t.Fatal("--push pr must leave the branch alone")
	}
	branch := "switchyard/fraud/production/rollback-v8-to-v7"
	if got := strings.TrimSpace(srv.Git("specs", "rev-parse", "refs/heads/"+branch)); got != w.SHA {
		t.Fatalf("branch %s at %q, want %s", branch, got, w.SHA)
	}
	all := pulls.All()
	if len(all) != 1 {
		t.Fatalf("pull requests %+v", all)
	}
	pr := all[0]
	if pr.Head != branch || pr.Base != "main" || pr.Title != `Revert "promote fraud v8"` {
		t.Fatalf("pull request %+v", pr)
	}
	goldenFile(t, filepath.Join("testdata", "pull_requests", "github_rollback.md"), strings.ReplaceAll(pr.Body, mainBefore, "PROMOTE_SHA"))
	if tr := Trailers(pr.Body); tr[TrailerAction] != "rollback" || tr[TrailerReverts] != mainBefore {
		t.Fatalf("the description does not end with the trailers: %v", tr)
	}

	// A retry on the same head reuses the branch, its commit and the open
	// pull request, unchanged.
	w2, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil || w2.PullRequest != w.PullRequest || w2.SHA != w.SHA || !w2.PullRequestCreated.Equal(fixedNow) {
		t.Fatalf("retry = %+v, %v", w2, err)
	}
	if after := pulls.All(); len(after) != 1 || after[0].Title != pr.Title || after[0].Body != pr.Body || len(after[0].Comments) != 0 {
		t.Fatalf("after the retry: %+v", after)
	}
}

// Opening a pull request from a branch that already has one open (a race
// with another attempt) returns the open one.
func TestOpenPullRequestFindsTheOpenOne(t *testing.T) {
	t.Parallel()
	pulls := gittest.NewPulls("acme", "specs", func() time.Time { return fixedNow })
	api := httptest.NewServer(pulls)
	defer api.Close()
	gh, err := NewGitHub(api.Client(), api.URL+"/", "", "acme", "specs")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pr := PullRequest{Branch: "switchyard/fraud/production/rollback-v8-to-v7", Base: "main", Title: "t", Body: "b"}
	first, err := gh.OpenPullRequest(ctx, pr)
	if err != nil {
		t.Fatal(err)
	}
	again, err := gh.OpenPullRequest(ctx, pr)
	if err != nil || again != first || len(pulls.All()) != 1 || len(pulls.Errs()) > 0 {
		t.Fatalf("again = %+v, %v (first %+v); pull requests %+v, errors %v", again, err, first, pulls.All(), pulls.Errs())
	}
}

// A retry later (a restarted reconciler proposes its outcome again) keeps
// the commit already proposed, so the pull request's head does not move;
// on a newer head the same branch gets a new commit.
func TestPushPullRequestRetryKeepsTheCommit(t *testing.T) {
	var mu sync.Mutex
	now := fixedNow
	pulls := gittest.NewPulls("acme", "specs", func() time.Time { return fixedNow })
	api := httptest.NewServer(pulls)
	defer api.Close()
	gh, err := NewGitHub(api.Client(), api.URL+"/", "ghp_test", "acme", "specs")
	if err != nil {
		t.Fatal(err)
	}
	srv, r, _ := setup(t, func(o *Options) {
		o.PullRequests = gh
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	ctx := context.Background()
	promote(t, srv)
	w, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	again, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil || again.SHA != w.SHA {
		t.Fatalf("retry wrote %s (%v), want the commit proposed before, %s", again.SHA, err, w.SHA)
	}
	branch := "switchyard/fraud/production/rollback-v8-to-v7"
	if got := strings.TrimSpace(srv.Git("specs", "rev-parse", "refs/heads/"+branch)); got != w.SHA {
		t.Fatalf("branch %s at %s, want %s", branch, got, w.SHA)
	}
	srv.CommitAs("specs", "docs", map[string]string{"README.md": "more\n"})
	newer, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil || newer.SHA == w.SHA || newer.PullRequest != w.PullRequest {
		t.Fatalf("on a newer head: %+v, %v; want a new commit in the same pull request", newer, err)
	}
	if got := strings.TrimSpace(srv.Git("specs", "rev-parse", "refs/heads/"+branch)); got != newer.SHA || len(pulls.All()) != 1 {
		t.Fatalf("branch %s at %s, want %s; pull requests %+v", branch, got, newer.SHA, pulls.All())
	}
}

func TestParseGitHubRepo(t *testing.T) {
	tests := []struct{ url, owner, repo string }{
		{"https://github.com/acme/specs.git", "acme", "specs"},
		{"https://github.com/acme/specs", "acme", "specs"},
		{"https://x-access-token:t@github.com/acme/specs.git", "acme", "specs"},
		{"git@github.com:acme/specs.git", "acme", "specs"},
		{"ssh://git@github.com/acme/specs.git", "acme", "specs"},
		{"https://gitlab.com/acme/specs.git", "", ""},
		{"/srv/git/specs.git", "", ""},
	}
	for _, tc := range tests {
		o, r, ok := ParseGitHubRepo(tc.url)
		if o != tc.owner || r != tc.repo || ok != (tc.owner != "") {
			t.Errorf("ParseGitHubRepo(%q) = %q %q %v", tc.url, o, r, ok)
		}
	}
}
