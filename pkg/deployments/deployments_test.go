package deployments

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/gitops"
	"github.com/switchyard-dev/switchyard/pkg/notify"
)

// call is one request go-github must make, and the answer it gets.
type call struct {
	method, path, query string
	// check inspects the JSON body sent (nil: no body expected).
	check  func(t *testing.T, body map[string]any)
	status int
	answer string
}

// script is a GitHub API on 127.0.0.1 that expects exactly its calls, in
// order, and fails the test on anything else.
type script struct {
	t     *testing.T
	calls []call
	n     int
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := s.t
	if s.n >= len(s.calls) {
		t.Errorf("unexpected request %s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery)
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	c := s.calls[s.n]
	s.n++
	if r.Method != c.method || r.URL.Path != "/api/v3"+c.path || r.URL.RawQuery != c.query {
		t.Errorf("request %d: %s %s?%s, want %s /api/v3%s?%s", s.n, r.Method, r.URL.Path, r.URL.RawQuery, c.method, c.path, c.query)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer gh-t0ken" {
		t.Errorf("request %d: Authorization %q", s.n, got)
	}
	b, _ := io.ReadAll(r.Body)
	if c.check != nil {
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("request %d: body %q: %v", s.n, b, err)
		} else {
			c.check(t, body)
		}
	} else if len(b) > 0 {
		t.Errorf("request %d: unexpected body %s", s.n, b)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(c.status)
	_, _ = io.WriteString(w, c.answer)
}

func (s *script) done() {
	if s.n != len(s.calls) {
		s.t.Errorf("%d of %d expected requests made", s.n, len(s.calls))
	}
}

func newReporter(t *testing.T, calls ...call) (*Reporter, *script) {
	s := &script{t: t, calls: calls}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	gh, err := gitops.NewGitHubClient(srv.Client(), srv.URL+"/api/v3/", "gh-t0ken")
	if err != nil {
		t.Fatal(err)
	}
	return New(gh, "acme", "models", "https://switchyard.example.com/"), s
}

const sha = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"

func event(name, from, to, commit, reason string) notify.Event {
	return notify.Event{Event: name, Model: "fraud", Stage: "production", From: from, To: to,
		Commit: commit, Reason: reason, At: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
}

func wantStatus(state, descPart string) func(t *testing.T, body map[string]any) {
	return func(t *testing.T, body map[string]any) {
		t.Helper()
		if body["state"] != state || !strings.Contains(body["description"].(string), descPart) ||
			body["environment"] != "production" || body["auto_inactive"] != false ||
			body["log_url"] != "https://switchyard.example.com/" {
			t.Errorf("status %v, want %s with %q", body, state, descPart)
		}
		if n := len([]rune(body["description"].(string))); n > 140 {
			t.Errorf("description of %d characters: GitHub takes 140", n)
		}
	}
}

func deliver(t *testing.T, r *Reporter, ev notify.Event) {
	t.Helper()
	if retry, err := r.Deliver(context.Background(), ev); err != nil {
		t.Fatalf("%s: %v (retry %v)", ev.Event, err, retry)
	}
}

func TestARolloutIsADeploymentThatSucceeds(t *testing.T) {
	r, s := newReporter(t,
		call{method: "GET", path: "/repos/acme/models/deployments", query: "environment=production&per_page=30&sha=" + sha,
			status: 200, answer: `[]`},
		call{method: "POST", path: "/repos/acme/models/deployments", status: 201, answer: `{"id": 7}`,
			check: func(t *testing.T, b map[string]any) {
				p, _ := b["payload"].(map[string]any)
				if b["ref"] != sha || b["environment"] != "production" || b["auto_merge"] != false ||
					b["production_environment"] != true || len(b["required_contexts"].([]any)) != 0 ||
					p["model"] != "fraud" || p["from"] != "v1" || p["to"] != "v2" {
					t.Errorf("deployment request %v", b)
				}
			}},
		call{method: "POST", path: "/repos/acme/models/deployments/7/statuses", status: 201, answer: `{"id": 1}`,
			check: wantStatus("in_progress", "rolling out v2 (from v1)")},
		call{method: "POST", path: "/repos/acme/models/deployments/7/statuses", status: 201, answer: `{"id": 2}`,
			check: wantStatus("in_progress", "paused: no data")},
		call{method: "POST", path: "/repos/acme/models/deployments/7/statuses", status: 201, answer: `{"id": 3}`,
			check: wantStatus("success", "v2 serves 100% (rolled out from v1)")},
	)
	deliver(t, r, event("started", "v1", "v2", sha, "rolling out"))
	deliver(t, r, event("paused", "v1", "v2", sha, "no data for a whole bake"))
	deliver(t, r, event("succeeded", "v1", "v2", sha, ""))
	s.done()
}

func TestARevertedRolloutEndsInactive(t *testing.T) {
	r, s := newReporter(t,
		call{method: "GET", path: "/repos/acme/models/deployments", query: "environment=production&per_page=30",
			status: 200, answer: `[{"id": 5, "payload": {"model": "fraud", "stage": "production", "from": "v1", "to": "v2"}}]`},
		call{method: "POST", path: "/repos/acme/models/deployments/5/statuses", status: 201, answer: `{}`,
			check: wantStatus("inactive", "aborted: serve is back to v1")},
	)
	deliver(t, r, event("aborted", "v1", "v2", sha, "serve is back to v1 in Git (a revert)"))
	s.done()
}

// TestTheActionsDeploymentFailsWithTheReason: the Action recorded the
// deployment on the push; the reconciler reports on it, and after a
// restart still finds it to fail it.
func TestTheActionsDeploymentFailsWithTheReason(t *testing.T) {
	reason := `check "errors" failed: error_rate 0.052 > max 0.01 at step 2 of 4 (25% traffic), 3 of 3 measurements, ` + strings.Repeat("and more ", 20)
	actions := `[{"id": 41, "payload": {"model": "other", "stage": "production", "from": "v1", "to": "v3"}},
	             {"id": 42, "payload": {"model": "fraud", "stage": "production", "from": "v2", "to": "v3"}}]`
	r, s := newReporter(t,
		call{method: "GET", path: "/repos/acme/models/deployments", query: "environment=production&per_page=30&sha=" + sha,
			status: 200, answer: actions},
		call{method: "POST", path: "/repos/acme/models/deployments/42/statuses", status: 201, answer: `{}`,
			check: wantStatus("in_progress", "rolling out v3")},
		call{method: "POST", path: "/repos/acme/models/deployments/42/statuses", status: 201, answer: `{}`,
			check: wantStatus("failure", `rolled back to v2 by 9f8e7d6c: check "errors" failed: error_rate 0.052`)},
		// A restarted reconciler knows no id: it lists the environment.
		call{method: "GET", path: "/repos/acme/models/deployments", query: "environment=production&per_page=30",
			status: 200, answer: actions},
		call{method: "POST", path: "/repos/acme/models/deployments/42/statuses", status: 201, answer: `{}`,
			check: wantStatus("failure", "fell back to rules")},
	)
	deliver(t, r, event("started", "v2", "v3", sha, ""))
	deliver(t, r, event("rollback", "v3", "v2", "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", reason))
	restarted := New(r.gh, "acme", "models", "https://switchyard.example.com/")
	deliver(t, restarted, event("fallback", "v3", "rules", "", "heuristic fallback"))
	s.done()
}

func TestFailuresSayWhetherToRetry(t *testing.T) {
	r, s := newReporter(t,
		call{method: "GET", path: "/repos/acme/models/deployments", query: "environment=production&per_page=30&sha=" + sha,
			status: 502, answer: `{"message": "bad gateway"}`},
		call{method: "GET", path: "/repos/acme/models/deployments", query: "environment=production&per_page=30&sha=" + sha,
			status: 403, answer: `{"message": "Resource not accessible by integration"}`},
	)
	retry, err := r.Deliver(context.Background(), event("started", "v1", "v2", sha, ""))
	if err == nil || !retry {
		t.Errorf("a 502 is retried: retry %v, err %v", retry, err)
	}
	retry, err = r.Deliver(context.Background(), event("started", "v1", "v2", sha, ""))
	if err == nil || retry || !strings.Contains(err.Error(), "deployments: write") {
		t.Errorf("a 403 is final and says what the token lacks: retry %v, err %v", retry, err)
	}
	if r.Wants("conclude") || r.Wants("rejected_head") || !r.Wants("rollback") {
		t.Errorf("Wants")
	}
	// A failure of a version never reported as started changes nothing.
	s.calls = append(s.calls, call{method: "GET", path: "/repos/acme/models/deployments", query: "environment=production&per_page=30",
		status: 200, answer: `[]`})
	deliver(t, r, event("rollback", "v9", "v8", sha, "x"))
	s.done()
}
