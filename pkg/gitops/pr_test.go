package gitops

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
)

type fakeGitHub struct {
	mu    sync.Mutex
	reqs  []map[string]string
	errs  []string
	heads map[string]bool // branches with an open pull request
	lists []string        // head filters of list requests
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodGet && r.URL.Path == "/api/v3/repos/acme/specs/pulls" {
		f.lists = append(f.lists, r.URL.Query().Get("head"))
		_, _ = w.Write([]byte(`[{"number": 7, "html_url": "https://github.com/acme/specs/pull/7", "created_at": "2026-11-26T09:00:00Z"}]`))
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/api/v3/repos/acme/specs/pulls" {
		f.errs = append(f.errs, r.Method+" "+r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer ghp_test" {
		f.errs = append(f.errs, "Authorization: "+got)
	}
	var body map[string]string
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.errs = append(f.errs, err.Error())
	}
	f.reqs = append(f.reqs, body)
	if f.heads[body["head"]] {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:` + body["head"] + `."}]}`))
		return
	}
	if f.heads == nil {
		f.heads = map[string]bool{}
	}
	f.heads[body["head"]] = true
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(`{"number": 7, "html_url": "https://github.com/acme/specs/pull/7", "created_at": "2026-11-26T10:00:00Z"}`))
}

func TestPushPullRequest(t *testing.T) {
	fake := &fakeGitHub{}
	api := httptest.NewServer(fake)
	defer api.Close()
	gh, err := NewGitHub(api.Client(), api.URL+"/", "ghp_test", "acme", "specs")
	if err != nil {
		t.Fatal(err)
	}
	srv, r, _ := setup(t, func(o *Options) { o.PullRequests = gh })
	ctx := context.Background()
	promote(t, srv)
	mainBefore := srv.Head("specs")
	w, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil {
		t.Fatal(err)
	}
	if w.PullRequest != "https://github.com/acme/specs/pull/7" || !w.Revert || !w.PullRequestCreated.Equal(fixedNow) {
		t.Fatalf("Written = %+v", w)
	}
	if srv.Head("specs") != mainBefore {
		t.Fatal("--push pr must leave the branch alone")
	}
	branch := "switchyard/rollback-fraud-production-" + commitid.Short(mainBefore)
	if got := strings.TrimSpace(srv.Git("specs", "rev-parse", "refs/heads/"+branch)); got != w.SHA {
		t.Fatalf("branch %s at %q, want %s", branch, got, w.SHA)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.errs) > 0 || len(fake.reqs) != 1 {
		t.Fatalf("GitHub requests: %v; errors %v", fake.reqs, fake.errs)
	}
	req := fake.reqs[0]
	if req["head"] != branch || req["base"] != "main" || req["title"] != `Revert "promote fraud v8"` {
		t.Fatalf("pull request %v", req)
	}
	goldenFile(t, filepath.Join("testdata", "pull_requests", "github_rollback.md"), strings.ReplaceAll(req["body"], mainBefore, "PROMOTE_SHA"))
	if tr := Trailers(req["body"]); tr[TrailerAction] != "rollback" || tr[TrailerReverts] != mainBefore {
		t.Fatalf("the description does not end with the trailers: %v", tr)
	}
	fake.mu.Unlock()

	// A retry on the same head reuses the branch and finds the open PR.
	w2, err := r.WriteOutcomeDetail(ctx, rollback())
	fake.mu.Lock()
	if err != nil || w2.PullRequest != w.PullRequest || !w2.PullRequestCreated.Equal(fixedNow.Add(-time.Hour)) {
		t.Fatalf("retry = %+v, %v", w2, err)
	}
	if len(fake.lists) != 1 || fake.lists[0] != "acme:"+branch {
		t.Fatalf("list requests %v", fake.lists)
	}
}

// A retry later (a restarted reconciler proposes its outcome again) keeps
// the commit already proposed, so the pull request's head does not move;
// an outcome on a newer head is a new branch.
func TestPushPullRequestRetryKeepsTheCommit(t *testing.T) {
	api := httptest.NewServer(&fakeGitHub{})
	defer api.Close()
	gh, err := NewGitHub(api.Client(), api.URL+"/", "ghp_test", "acme", "specs")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := fixedNow
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
	branch := "switchyard/rollback-fraud-production-" + commitid.Short(srv.Head("specs"))
	if got := strings.TrimSpace(srv.Git("specs", "rev-parse", "refs/heads/"+branch)); got != w.SHA {
		t.Fatalf("branch %s at %s, want %s", branch, got, w.SHA)
	}
	srv.CommitAs("specs", "docs", map[string]string{"README.md": "more\n"})
	newer, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil || newer.SHA == w.SHA {
		t.Fatalf("on a newer head: %+v, %v; want a new commit", newer, err)
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
