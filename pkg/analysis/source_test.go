package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

var testStats = traffic.Stats{Window: 10 * time.Second, Versions: []traffic.VersionStats{
	{Model: "fraud", Stage: "production", Version: "v7", Requests: 1000, Errors: 10, RequestRate: 100, LatencyP50: 0.05, LatencyP90: 0.1, LatencyP99: 0.2},
	{Model: "fraud", Stage: "production", Version: "v8", Requests: 500, Errors: 26, RequestRate: 50, LatencyP50: 0.06, LatencyP90: 0.12, LatencyP99: 0.27,
		Rewards: 40, RewardSum: 12, RewardSumSq: 12},
	{Model: "fraud", Stage: "production", Version: "v9", Requests: 3, Errors: 0, LatencyP99: 0.9},
	{Model: "fraud", Stage: "staging", Version: "v8", Requests: 7, Errors: 7},
}}

func fixedStats(st traffic.Stats) StatsFunc {
	return func(context.Context, time.Duration) (traffic.Stats, error) { return st, nil }
}

func TestRouterSource(t *testing.T) {
	src := RouterSource{Stats: fixedStats(testStats)}
	tests := []struct {
		name string
		q    Query
		want Result
		err  string
	}{
		{"error rate with baseline", Query{Model: "fraud", Stage: "production", Version: "v8", Baseline: "v7", Metric: "error_rate", MinRequests: 50},
			Result{Value: 0.052, Requests: 500, Baseline: 0.01, HasBaseline: true, BaselineRequests: 1000}, ""},
		{"latency p99", Query{Model: "fraud", Stage: "production", Version: "v8", Baseline: "v7", Metric: "latency_p99"},
			Result{Value: 0.27, Requests: 500, Baseline: 0.2, HasBaseline: true, BaselineRequests: 1000}, ""},
		{"p50 and p90", Query{Model: "fraud", Stage: "production", Version: "v7", Metric: "latency_p90"},
			Result{Value: 0.1, Requests: 1000}, ""},
		{"request rate", Query{Model: "fraud", Stage: "production", Version: "v7", Metric: "request_rate"},
			Result{Value: 100, Requests: 1000}, ""},
		{"baseline with too few requests", Query{Model: "fraud", Stage: "production", Version: "v8", Baseline: "v9", Metric: "latency_p99", MinRequests: 20},
			Result{Value: 0.27, Requests: 500}, ""},
		{"version absent: zero requests", Query{Model: "fraud", Stage: "production", Version: "v10", Baseline: "v7", Metric: "error_rate"},
			Result{Value: 0, Requests: 0, Baseline: 0.01, HasBaseline: true, BaselineRequests: 1000}, ""},
		{"stage is part of the key", Query{Model: "fraud", Stage: "staging", Version: "v8", Metric: "error_rate"},
			Result{Value: 1, Requests: 7}, ""},
		{"unknown metric", Query{Model: "fraud", Stage: "production", Version: "v8", Metric: "latency_p95"},
			Result{}, `unknown router metric "latency_p95"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := src.Query(context.Background(), tt.q)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v %v, want %+v", got, err, tt.want)
			}
		})
	}
}

// A blue/green preview_mirror: the new version's checks count the copies
// mirrored to it (failed ones as errors, their latencies) beside the
// header requests it answered itself; other versions and metrics do not.
func TestRouterSourceMirrored(t *testing.T) {
	st := traffic.Stats{Window: 10 * time.Second, Versions: []traffic.VersionStats{
		{Model: "fraud", Stage: "production", Version: "v7", Requests: 1000, Errors: 10, RequestRate: 100, LatencyP50: 0.05, LatencyP90: 0.1, LatencyP99: 0.2,
			ShadowPairs: 5, ShadowErrors: 5, ShadowLatencyP99: 9},
		// Green: 4 smoke requests of its own, 200 copies of which 30 failed.
		{Model: "fraud", Stage: "production", Version: "v8", Requests: 4, Errors: 0, RequestRate: 0.4, LatencyP50: 0.01, LatencyP90: 0.5, LatencyP99: 0.6,
			TTFBP99: 0.3, ShadowPairs: 200, ShadowErrors: 30, ShadowLatencyP50: 0.07, ShadowLatencyP90: 0.2, ShadowLatencyP99: 0.9},
		// Only copies, no request of its own.
		{Model: "fraud", Stage: "production", Version: "v9", ShadowPairs: 50, ShadowErrors: 1, ShadowLatencyP50: 0.03, ShadowLatencyP90: 0.04, ShadowLatencyP99: 0.05},
	}}
	q := func(version, metric string) Query {
		return Query{Model: "fraud", Stage: "production", Version: version, Baseline: "v7", Metric: metric}
	}
	base := Result{Baseline: 0.01, HasBaseline: true, BaselineRequests: 1000}
	with := func(r Result, b Result) Result {
		r.HasBaseline, r.BaselineRequests = true, b.BaselineRequests
		return r
	}
	tests := []struct {
		mirrored string
		q        Query
		want     Result
	}{
		{"v8", q("v8", "error_rate"), with(Result{Value: 30.0 / 204, Requests: 204, Baseline: 0.01}, base)},
		{"v8", q("v8", "latency_p50"), with(Result{Value: 0.07, Requests: 204, Baseline: 0.05}, base)}, // the copies' p50 is higher
		{"v8", q("v8", "latency_p90"), with(Result{Value: 0.5, Requests: 204, Baseline: 0.1}, base)},   // its own p90 is higher
		{"v8", q("v8", "latency_p99"), with(Result{Value: 0.9, Requests: 204, Baseline: 0.2}, base)},
		// Copies have no time to first byte, and are not the version's traffic.
		{"v8", q("v8", "ttfb_p99"), with(Result{Value: 0.3, Requests: 4}, base)},
		{"v8", q("v8", "request_rate"), with(Result{Value: 0.4, Requests: 4, Baseline: 100}, base)},
		{"v9", q("v9", "error_rate"), with(Result{Value: 1.0 / 50, Requests: 50, Baseline: 0.01}, base)},
		{"v9", q("v9", "latency_p50"), with(Result{Value: 0.03, Requests: 50, Baseline: 0.05}, base)},
		// Not the mirrored version: its shadow copies are a shadow's, not its requests.
		{"v9", q("v8", "error_rate"), with(Result{Value: 0, Requests: 4, Baseline: 0.01}, base)},
		{"", q("v8", "error_rate"), with(Result{Value: 0, Requests: 4, Baseline: 0.01}, base)},
	}
	for _, tt := range tests {
		src := RouterSource{Stats: fixedStats(st), Mirrored: tt.mirrored}
		// The Meter asks a snapshot of the source: it mirrors the same.
		snap, err := src.Snapshot(context.Background(), st.Window)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []Source{src, snap} {
			got, err := s.Query(context.Background(), tt.q)
			if err != nil || got != tt.want {
				t.Errorf("mirrored %q, %s of %s: got %+v %v, want %+v", tt.mirrored, tt.q.Metric, tt.q.Version, got, err, tt.want)
			}
		}
	}
}

func TestStatsClient(t *testing.T) {
	var gotWindow string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/v1/stats" {
			http.NotFound(w, r)
			return
		}
		gotWindow = r.URL.Query().Get("window")
		json.NewEncoder(w).Encode(testStats)
	}))
	defer srv.Close()
	ctx := context.Background()

	c := &StatsClient{BaseURL: srv.URL + "/", Token: "s3cret", HTTP: srv.Client()}
	src := RouterSource{Stats: c.Stats}
	r, err := src.Query(ctx, Query{Model: "fraud", Stage: "production", Version: "v8", Baseline: "v7", Metric: "error_rate", Window: 10 * time.Second})
	if err != nil || r.Value != 0.052 || !r.HasBaseline || gotWindow != "10s" {
		t.Errorf("got %+v %v (window %q)", r, err, gotWindow)
	}

	bad := &StatsClient{BaseURL: srv.URL, Token: "wrong", HTTP: srv.Client()}
	if _, err := bad.Stats(ctx, time.Second); err == nil || !strings.Contains(err.Error(), "check the router's admin token") {
		t.Errorf("wrong token: %v", err)
	}
	_, err = RouterSource{Stats: bad.Stats}.Query(ctx, Query{Metric: "error_rate"})
	if err == nil || !strings.HasPrefix(err.Error(), "reading router stats: ") {
		t.Errorf("source error not wrapped: %v", err)
	}
}

type fakeSource struct {
	r   Result
	err error
	got []Query
}

func (f *fakeSource) Query(_ context.Context, q Query) (Result, error) {
	f.got = append(f.got, q)
	return f.r, f.err
}

func TestMeterMeasure(t *testing.T) {
	prom := &fakeSource{r: Result{Value: 0.3, Requests: -1, Baseline: 0.2, HasBaseline: true}}
	broken := &fakeSource{err: errors.New("connection refused")}
	m := &spec.Model{Name: "fraud", Stage: "production", Checks: []*spec.Check{
		{Name: "errors", Metric: "error_rate", Source: "router", Max: f(0.02), MinRequests: 50},
		{Name: "latency", Metric: "latency_p99", Source: "router", MaxRatio: f(1.2)},
		{Name: "business", Source: "prom", Query: `sum(x{version="{{version}}"})`, Max: f(0.5)},
		{Name: "other", Source: "broken", Query: "y", Max: f(1)},
		{Name: "missing", Source: "nowhere", Query: "z", Max: f(1)},
	}}
	calls := 0
	stats := func(_ context.Context, w time.Duration) (traffic.Stats, error) {
		calls++
		if w != 10*time.Second {
			t.Errorf("window %v", w)
		}
		return testStats, nil
	}
	mt := Meter{Sources: map[string]Source{"router": RouterSource{Stats: stats}, "prom": prom, "broken": broken}}
	got, err := mt.Measure(context.Background(), m, "v8", "v7", 10*time.Second)
	if calls != 1 {
		t.Errorf("router stats read %d times for one Measure, want once", calls)
	}
	want := map[string]Measurement{
		"errors":   {Check: "errors", Version: "v8", Value: 0.052, Baseline: 0.01, HasBaseline: true, Requests: 500, BaselineRequests: 1000},
		"latency":  {Check: "latency", Version: "v8", Value: 0.27, Baseline: 0.2, HasBaseline: true, Requests: 500, BaselineRequests: 1000},
		"business": {Check: "business", Version: "v8", Value: 0.3, Baseline: 0.2, HasBaseline: true, Requests: -1},
	}
	if len(got) != len(want) {
		t.Errorf("got %d measurements %+v, want %d", len(got), got, len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
	for _, s := range []string{`check "other" of fraud/production on v8: connection refused`, `check "missing" of fraud/production: no metrics source "nowhere"`} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("err = %v, want it to contain %q", err, s)
		}
	}
	wantQ := Query{Model: "fraud", Stage: "production", Version: "v8", Baseline: "v7", Expr: `sum(x{version="{{version}}"})`, Window: 10 * time.Second}
	if len(prom.got) != 1 || prom.got[0] != wantQ {
		t.Errorf("prometheus got %+v, want %+v", prom.got, wantQ)
	}
	// The verdicts the engine would draw from these measurements.
	if v, reason := Judge(m.Checks[0], got["errors"]); v != Fail {
		t.Errorf("errors: %v %s", v, reason)
	}
	if v, reason := Judge(m.Checks[1], got["latency"]); v != Fail || reason != "latency_p99 ratio 1.35 > max_ratio 1.2 (0.270 vs 0.200)" {
		t.Errorf("latency: %v %s", v, reason)
	}
}

func TestMeterRouterDown(t *testing.T) {
	m := &spec.Model{Name: "fraud", Stage: "production", Checks: []*spec.Check{
		{Name: "errors", Metric: "error_rate", Max: f(0.02)},
		{Name: "latency", Metric: "latency_p99", Source: "router", MaxRatio: f(1.2)},
	}}
	calls := 0
	down := func(context.Context, time.Duration) (traffic.Stats, error) {
		calls++
		return traffic.Stats{}, errors.New("dial tcp 127.0.0.1:8081: connection refused")
	}
	got, err := Meter{Sources: map[string]Source{"router": RouterSource{Stats: down}}}.Measure(context.Background(), m, "v8", "", time.Minute)
	if len(got) != 0 || calls != 1 {
		t.Errorf("got %v after %d calls", got, calls)
	}
	for _, s := range []string{`check "errors" of fraud/production on v8: reading router stats: dial tcp`, `check "latency"`} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("err = %v, want %q", err, s)
		}
	}
}

func TestArms(t *testing.T) {
	got := Arms(testStats, "fraud", "production", []string{"v7", "v8"})
	want := []Arm{{Name: "v7"}, {Name: "v8", N: 40, Sum: 12, SumSq: 12}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Arms = %+v, want %+v", got, want)
	}
}
