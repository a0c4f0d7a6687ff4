package wiring_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
)

// fakeGitHub is the part of the GitHub API deployments and `--push pr`
// use, on 127.0.0.1: it keeps every deployment and status it is sent, and
// opens every pull request it is asked for.
type fakeGitHub struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	created  []map[string]any
	statuses []map[string]any // each with "deployment" set to the id's path
	// prs serves the pull requests `--push pr` opens, lists, updates,
	// comments on and closes.
	prs *gittest.Pulls
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{t: t, prs: gittest.NewPulls("acme", "models", time.Now)}
	f.prs.Token = "gh-t0ken"
	t.Cleanup(func() {
		if errs := f.prs.Errs(); len(errs) > 0 {
			t.Errorf("pull request API requests the fake does not know: %v", errs)
		}
	})
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/v3/repos/acme/models/pulls") || strings.HasPrefix(r.URL.Path, "/api/v3/repos/acme/models/issues/") {
		f.prs.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer gh-t0ken" {
		f.t.Errorf("%s %s without the token", r.Method, r.URL.Path)
	}
	w.Header().Set("Content-Type", "application/json")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == "GET" && r.URL.Path == "/api/v3/repos/acme/models/deployments":
		_, _ = io.WriteString(w, "[]")
	case r.Method == "POST" && r.URL.Path == "/api/v3/repos/acme/models/deployments":
		var d map[string]any
		_ = json.Unmarshal(body, &d)
		f.created = append(f.created, d)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": len(f.created)})
	case r.Method == "POST" && strings.HasPrefix(r.URL.Path, "/api/v3/repos/acme/models/deployments/") && strings.HasSuffix(r.URL.Path, "/statuses"):
		var st map[string]any
		_ = json.Unmarshal(body, &st)
		st["deployment"] = strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v3/repos/acme/models/deployments/"), "/statuses")
		f.statuses = append(f.statuses, st)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "{}")
	default:
		f.t.Errorf("unexpected GitHub request %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
	}
}

// pulls are the pull requests opened, in order, with their head branch,
// title and description as they are now.
func (f *fakeGitHub) pulls() []map[string]string {
	var out []map[string]string
	for _, p := range f.prs.All() {
		out = append(out, map[string]string{"head": p.Head, "base": p.Base, "title": p.Title, "body": p.Body, "state": p.State})
	}
	return out
}

func (f *fakeGitHub) states() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.statuses {
		out = append(out, s["deployment"].(string)+":"+s["state"].(string))
	}
	return strings.Join(out, ",")
}

// TestE2EFailedCanaryIsAFailedGitHubDeployment: the reconciler, run with a
// GitHub token, reports the bad canary as a deployment of the commit that
// asked for it, in progress and then failed with the reason.
func TestE2EFailedCanaryIsAFailedGitHubDeployment(t *testing.T) {
	gh := newFakeGitHub(t)
	e := newE2EWith(t, e2eOptions{GitHubAPI: gh.srv.URL + "/api/v3/"})
	bad := e.push("Promote fraud v3", "v3", "[10, 50]")
	e.waitFor("the failure on GitHub", func() bool { return strings.HasSuffix(gh.states(), "1:failure") })
	// In progress (again when it paused for want of data), then failed.
	if got := gh.states(); !regexp.MustCompile(`^1:in_progress(,1:in_progress)*,1:failure$`).MatchString(got) {
		t.Errorf("statuses %s, want 1:in_progress, then 1:failure", got)
	}
	gh.mu.Lock()
	defer gh.mu.Unlock()
	if len(gh.created) != 1 || gh.created[0]["ref"] != bad || gh.created[0]["environment"] != "production" {
		t.Fatalf("deployments created %v, want one of %s", gh.created, bad)
	}
	revert := e.git.Head(e2eRepo)
	desc, _ := gh.statuses[len(gh.statuses)-1]["description"].(string)
	if !strings.Contains(desc, "rolled back to v1 by "+revert[:8]) || !strings.Contains(desc, `check "errors" failed`) {
		t.Errorf("failure description %q, want the revert %s and the reason", desc, revert[:8])
	}
}
