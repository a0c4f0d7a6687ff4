package analysis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// A version that starts answering later (an LLM's first token) fails a
// max_ratio on ttfb_p99 from the router's stats, as on latency_p99; its
// total latency alone would not show it.
func TestTTFBCheckCatchesAVersionThatStartsLater(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	model := &spec.Model{Name: "llm", Stage: "production", Checks: []*spec.Check{
		{Name: "first-token", Metric: "ttfb_p99", MaxRatio: f(1.5), Source: "router", MinRequests: 20},
		{Name: "first-token-median", Metric: "ttfb_p50", Max: f(0.5), Source: "router", MinRequests: 20},
		{Name: "latency", Metric: "latency_p99", MaxRatio: f(1.5), Source: "router", MinRequests: 20},
	}}
	stats := traffic.Stats{Versions: []traffic.VersionStats{
		{Model: "llm", Stage: "production", Version: "v8", Requests: 500, LatencyP99: 2.0, TTFBP50: 0.4, TTFBP90: 0.7, TTFBP99: 0.9},
		{Model: "llm", Stage: "production", Version: "v7", Requests: 500, LatencyP99: 2.0, TTFBP50: 0.1, TTFBP90: 0.2, TTFBP99: 0.3},
	}}
	mt := Meter{Sources: map[string]Source{"router": RouterSource{Stats: func(context.Context, time.Duration) (traffic.Stats, error) { return stats, nil }}}}
	got, err := mt.Measure(context.Background(), model, "v8", "v7", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if v, r := Judge(model.Checks[0], got["first-token"]); v != Fail || !strings.Contains(r, "ttfb_p99 ratio 3.00 > max_ratio 1.5") {
		t.Errorf("ttfb_p99 0.9 vs 0.3: %v %q", v, r)
	}
	if v, r := Judge(model.Checks[1], got["first-token-median"]); v != Pass {
		t.Errorf("ttfb_p50 0.4 under max 0.5: %v %q", v, r)
	}
	if v, r := Judge(model.Checks[2], got["latency"]); v != Pass {
		t.Errorf("latency_p99 unchanged: %v %q", v, r)
	}
}
