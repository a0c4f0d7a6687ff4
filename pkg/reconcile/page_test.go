package reconcile

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/browsertest"
	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/notify"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// pageStatus is a status with every section the page draws.
func pageStatus() Status {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ratio := 1.2
	var hist []Point
	for i := 0; i < 10; i++ {
		v := "pass"
		if i == 9 {
			v = "fail"
		}
		hist = append(hist, Point{At: now.Add(time.Duration(i-10) * 10 * time.Second), Version: "v8",
			Value: 0.1 + 0.01*float64(i), Baseline: 0.1, Requests: 500, Verdict: v})
	}
	return Status{
		Head: "2222222222222222222222222222222222222222", Applied: "1111111111111111111111111111111111111111",
		HeadError:       "commit 22222222 is not applied: 1 error(s) in validation or policy; the last good commit keeps running",
		HeadDiagnostics: []diag.Diagnostic{{Severity: diag.Error, Summary: "Unknown strategy", File: "rollouts/fraud.hcl", Line: 12}},
		OwnCommitRejected: &OwnRejection{Commit: "2222222222222222222222222222222222222222", Action: "roll_through",
			Reason: "rollouts/fraud.hcl:12: Unknown strategy: want canary"},
		FetchError:     "remote hung up",
		PendingCommits: []PendingCommit{{Model: "fraud/production", Action: "rollback", Attempts: 3, LastErr: "push rejected"}},
		PendingPullRequests: []PendingPullRequest{{Model: "ranker/production", Action: "promote", URL: "https://github.com/acme/specs/pull/12",
			Opened: now.Add(-3 * time.Hour), AgeSeconds: 3 * 3600}},
		LastFetch: now.Add(-5 * time.Second), Now: now,
		Models: []ModelStatus{
			{Model: "fraud", Stage: "production", Serve: "v8", Phase: "progressing", From: "v7", To: "v8",
				Strategy: "canary", Step: 2, Steps: 3, Progress: 0.33, Router: "edge", LastCommit: "4444444444444444444444444444444444444444",
				Weights: []traffic.Weight{{Version: "v7", Percent: 75}, {Version: "v8", Percent: 25}},
				Measurements: []Measurement{{Check: "latency", Metric: "latency_p99", Value: 0.19, Baseline: 0.1,
					Verdict: "fail", Reason: "latency_p99 0.19 > 1.2 × 0.1", Requests: 500, MaxRatio: &ratio, History: hist}},
				Shadow: &ShadowStatus{Version: "v9", Pairs: 1200, Agreement: 0.991, Lower: 0.984, Upper: 0.995, Errors: 2}},
			{Model: "ranker", Stage: "production", Serve: "v2", Phase: "experimenting", Router: "edge",
				Weights: []traffic.Weight{{Version: "v2", Percent: 20}, {Version: "v3", Percent: 80}},
				Experiment: &ExperimentStatus{Method: "bandit", Arms: []ArmStatus{
					{Version: "v2", Weight: 20, Samples: 900, Mean: 0.11, ProbBest: 0.025},
					{Version: "v3", Weight: 80, Samples: 4100, Mean: 0.14, ProbBest: 0.975}}}},
			{Model: "search", Stage: "staging", Serve: "a", Phase: "experimenting", Router: "edge",
				Weights:    []traffic.Weight{{Version: "a", Percent: 50}, {Version: "b", Percent: 50}},
				Experiment: &ExperimentStatus{Method: "ab", PValue: 0.003, Arms: []ArmStatus{{Version: "a", Weight: 50, Samples: 1200, Mean: 0.5}, {Version: "b", Weight: 50, Samples: 1180, Mean: 0.56}}}},
		},
		Events: []notify.Event{{Event: "rollback", Model: "fraud", Stage: "production", From: "v8", To: "v7",
			Commit: "3333333333333333333333333333333333333333", At: now,
			Reason: `check "errors" failed <img src=x onerror="document.title='pwned'">`}},
	}
}

// TestPageDrawsEverySection renders a status with every section in
// headless Chromium and reads the DOM.
func TestPageDrawsEverySection(t *testing.T) {
	bin := browsertest.Chromium(t)
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", pageHandler())
	mux.Handle("GET /ui/", pageHandler())
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(pageStatus())
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dom := browsertest.Run(t, bin, srv.URL+"/", "--dump-dom")
	for _, want := range []string{
		`data-model="fraud/production"`, `>v7 → v8<`, `step 2 of 3`, `v7 75%`, `v8 25%`,
		`data-check="latency"`, `max 1.2× baseline`, `class="pt-fail"`, // the ratio check and its failed point
		`>Shadow v9<`, `>99.1%<`, `1,200`, // the shadow's agreement over its pairs
		`>Bandit<`, `data-arm="v3"`, `97.5%`, `4,100`, // the bandit's arms
		`>A/B test<`, `p-value 0.003`, // the A/B test
		`Fetch failing: `, `Head rejected: `, `rollouts/fraud.hcl:12`, `Commit pending for fraud/production (rollback)`,
		`The reconciler's own roll_through commit is rejected (a bug): `, `data-own-commit="2222222222222222222222222222222222222222"`,
		`Pull request not merged for ranker/production (promote)`, `href="https://github.com/acme/specs/pull/12"`, `opened 3h ago`,
		`data-event="rollback"`, `title="3333333333333333333333333333333333333333"`,
		`last outcome commit <code class="commit" title="4444444444444444444444444444444444444444">44444444</code>`,
		`10 measurements · 09:58:20Z – 09:59:50Z`, // the chart's span
		`data-last-event="rollback"`,              // the model's latest event, in its card
		`&lt;img src=x onerror=`,                  // a reason is text, never markup
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(dom, "<img") || strings.Contains(dom, "pwned</title>") {
		t.Errorf("a reason became markup")
	}
	if !strings.Contains(dom, `(running <code>11111111</code>)`) || strings.Contains(dom, "[object") {
		t.Errorf("the summary does not say which commit runs while the head is rejected")
	}
	for _, re := range []string{
		`<polyline class="limit" points="`,                                       // max_ratio × baseline, point by point
		`<polyline class="baseline" points="`,                                    // the baseline
		`<polyline class="values" points="([0-9.]+,[0-9.]+ ){9}[0-9.]+,[0-9.]+"`, // ten measurements
	} {
		if !regexp.MustCompile(re).MatchString(dom) {
			t.Errorf("the chart lacks %s", re)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
}
