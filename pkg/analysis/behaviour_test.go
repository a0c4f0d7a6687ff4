package analysis

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

func scores(rng *rand.Rand, n int, mean float64) behaviour.Sketch {
	var s behaviour.Sketch
	for range n {
		s.AddNumber(mean + rng.NormFloat64())
	}
	return s
}

func driftMeasurement(cur, ref behaviour.Sketch) Measurement {
	d, _ := behaviour.Compare(cur, ref)
	return Measurement{Check: "drift", Value: d.PSI, Requests: int64(d.N), Drift: &d, HasBaseline: true, BaselineRequests: int64(d.M)}
}

func TestJudgeDrift(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	c := &spec.Check{Name: "drift", Metric: "output_drift", Output: "/score", Max: f(0.1), MinRequests: 20}
	for _, tc := range []struct {
		name    string
		m       Measurement
		verdict Verdict
		reason  string
	}{
		{"shifted", driftMeasurement(scores(rng, 812, 1), scores(rng, 7304, 0)), Fail,
			"output_drift PSI 0.9"},
		{"alike", driftMeasurement(scores(rng, 812, 0), scores(rng, 7304, 0)), Pass,
			"<= max 0.1 (90% lower bound 0, 812 vs 7,304 answers)"},
		{"small window", driftMeasurement(scores(rng, 40, 0.5), scores(rng, 40, 0)), NoData,
			"too few answers to tell a PSI of 0.1 from noise (40 vs 40 answers)"},
		{"no baseline", Measurement{Value: 0, Requests: 500}, NoData, "output_drift: no baseline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, reason := Judge(c, tc.m)
			if v != tc.verdict || !strings.Contains(reason, tc.reason) {
				t.Fatalf("Judge = %v %q, want %v containing %q", v, reason, tc.verdict, tc.reason)
			}
		})
	}
	m := driftMeasurement(scores(rng, 812, 1), scores(rng, 7304, 0))
	m.Reference, m.ReferenceWindows = true, 6
	_, reason := Judge(c, m)
	if !strings.Contains(reason, "812 answers vs 7,304 kept from the previous version's last 6 windows before the switch") {
		t.Errorf("reference reason: %q", reason)
	}
}

func TestJudgeAccuracyAndMinRatio(t *testing.T) {
	acc := &spec.Check{Name: "quality", Metric: "accuracy", Output: "/label", MinRatio: f(0.98), MinRequests: 20}
	for _, tc := range []struct {
		name    string
		m       Measurement
		verdict Verdict
		reason  string
	}{
		{"clearly worse", Measurement{Value: 0.8, Requests: 500, Baseline: 0.9, HasBaseline: true, BaselineRequests: 9500}, Fail,
			"accuracy ratio 0.889 < min_ratio 0.98 (99.9% upper bound 0.951, 0.8 vs 0.9, 500 vs 9,500 labelled answers)"},
		{"a little worse, noise", Measurement{Value: 0.86, Requests: 100, Baseline: 0.9, HasBaseline: true, BaselineRequests: 1900}, Pass,
			"below min_ratio 0.98 within noise"},
		{"as good", Measurement{Value: 0.9, Requests: 500, Baseline: 0.9, HasBaseline: true, BaselineRequests: 9500}, Pass,
			"accuracy ratio 1 >= min_ratio 0.98"},
		{"few labels", Measurement{Value: 0.5, Requests: 10, Baseline: 0.9, HasBaseline: true, BaselineRequests: 500}, NoData,
			"10 labelled answers < min_requests 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, reason := Judge(acc, tc.m)
			if v != tc.verdict || !strings.Contains(reason, tc.reason) {
				t.Fatalf("Judge = %v %q, want %v containing %q", v, reason, tc.verdict, tc.reason)
			}
		})
	}
	min := &spec.Check{Name: "q", Metric: "accuracy", Output: "/label", Min: f(0.9), MinRequests: 20}
	if v, r := Judge(min, Measurement{Value: 0.88, Requests: 100}); v != Pass || !strings.Contains(r, "within noise") {
		t.Errorf("accuracy 0.88 over 100 labels vs min 0.9: %v %q", v, r)
	}
	if v, r := Judge(min, Measurement{Value: 0.6, Requests: 1000}); v != Fail || !strings.Contains(r, "accuracy 0.6 < min 0.9 (99.9% upper bound") {
		t.Errorf("accuracy 0.6 over 1000 labels vs min 0.9: %v %q", v, r)
	}
	// min_ratio works for every ratio check: a mean that collapsed.
	mean := &spec.Check{Name: "mean", Metric: "output_mean", Output: "/score", MinRatio: f(0.8), MaxRatio: f(1.25), MinRequests: 20}
	if v, r := Judge(mean, measured("output_mean", moments(500, 0.2, 0.3), moments(500, 0.5, 0.3))); v != Fail || !strings.Contains(r, "output_mean ratio 0.4 < min_ratio 0.8") {
		t.Errorf("mean 0.2 vs 0.5: %v %q", v, r)
	}
	lat := &spec.Check{Name: "lat", Metric: "latency_p99", MinRatio: f(0.5), MinRequests: 20}
	if v, r := Judge(lat, Measurement{Value: 0.01, Requests: 500, Baseline: 0.1, HasBaseline: true, Reference: true, ReferenceWindows: 3}); v != Fail ||
		!strings.Contains(r, "baseline from the previous version's last 3 windows before the switch") {
		t.Errorf("latency 0.01 vs reference 0.1: %v %q", v, r)
	}
}

// At 100% the previous version has no answers: the Meter compares with
// the windows it kept while that version still had traffic.
func TestMeterKeepsAReferenceForTheFinalBake(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	model := &spec.Model{Name: "fraud", Stage: "production", Checks: []*spec.Check{
		{Name: "drift", Metric: "output_drift", Output: "/score", Max: f(0.1), Source: "router", MinRequests: 20},
		{Name: "latency", Metric: "latency_p99", MaxRatio: f(1.5), Source: "router", MinRequests: 20},
	}}
	var stats traffic.Stats
	mt := Meter{Sources: map[string]Source{"router": RouterSource{Stats: func(context.Context, time.Duration) (traffic.Stats, error) { return stats, nil }}},
		References: NewReferences()}
	version := func(name string, n int64, mean, p99 float64) traffic.VersionStats {
		vs := traffic.VersionStats{Model: "fraud", Stage: "production", Version: name, Requests: n, LatencyP99: p99}
		if n > 0 {
			vs.Outputs = map[string]behaviour.Sketch{"/score": scores(rng, int(n), mean)}
		}
		return vs
	}
	// canary at 50%: both versions answer.
	for range 3 {
		stats = traffic.Stats{Versions: []traffic.VersionStats{version("v8", 1000, 0, 0.1), version("v7", 1000, 0, 0.1)}}
		got, err := mt.Measure(context.Background(), model, "v8", "v7", 10*time.Second)
		if err != nil || got["drift"].Reference {
			t.Fatalf("canary: %+v %v", got, err)
		}
	}
	// 100%: v7 has nothing; v8 drifted and slowed.
	stats = traffic.Stats{Versions: []traffic.VersionStats{version("v8", 1000, 1, 0.3)}}
	got, err := mt.Measure(context.Background(), model, "v8", "v7", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d := got["drift"]
	if !d.Reference || d.ReferenceWindows != 3 || d.Drift == nil || d.Drift.M != 3000 {
		t.Fatalf("drift at 100%%: %+v", d)
	}
	if v, r := Judge(model.Checks[0], d); v != Fail || !strings.Contains(r, "1,000 answers vs 3,000 kept from the previous version's last 3 windows") {
		t.Errorf("drift at 100%%: %v %q", v, r)
	}
	l := got["latency"]
	if !l.Reference || l.Baseline != 0.1 {
		t.Fatalf("latency at 100%%: %+v", l)
	}
	if v, _ := Judge(model.Checks[1], l); v != Fail {
		t.Errorf("latency 0.3 vs kept 0.1 with max_ratio 1.5: %v", v)
	}
	// A different previous version is not compared with v7's windows.
	got, _ = mt.Measure(context.Background(), model, "v8", "v6", 10*time.Second)
	if got["drift"].Reference || got["drift"].Drift != nil {
		t.Errorf("v6 baseline used v7's windows: %+v", got["drift"])
	}
}

// Before an all_at_once rollout, the Meter remembers the serving
// version's figures, so that the first window at 100% has a baseline.
func TestMeterRemembersTheServingVersion(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	model := &spec.Model{Name: "fraud", Stage: "production", Checks: []*spec.Check{
		{Name: "drift", Metric: "output_drift", Output: "/score", Max: f(0.1), Source: "router", MinRequests: 20},
		{Name: "errors", Metric: "error_rate", Max: f(0.01), Source: "router", MinRequests: 20},
	}}
	var stats traffic.Stats
	mt := Meter{Sources: map[string]Source{"router": RouterSource{Stats: func(context.Context, time.Duration) (traffic.Stats, error) { return stats, nil }}},
		References: NewReferences()}
	stats = traffic.Stats{Versions: []traffic.VersionStats{{Model: "fraud", Stage: "production", Version: "v7", Requests: 2000,
		Outputs: map[string]behaviour.Sketch{"/score": scores(rng, 2000, 0)}}}}
	if err := mt.Remember(context.Background(), model, "v7", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	stats = traffic.Stats{Versions: []traffic.VersionStats{{Model: "fraud", Stage: "production", Version: "v8", Requests: 2000,
		Outputs: map[string]behaviour.Sketch{"/score": scores(rng, 2000, 0.05)}}}}
	got, err := mt.Measure(context.Background(), model, "v8", "v7", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d := got["drift"]
	if !d.Reference || d.Drift == nil || d.Drift.M != 2000 {
		t.Fatalf("drift after Remember: %+v", d)
	}
	if v, r := Judge(model.Checks[0], d); v != Pass || !strings.Contains(r, "kept from the previous version's last 1 windows") {
		t.Errorf("a small shift against the remembered version: %v %q", v, r)
	}
	if got["errors"].Reference {
		t.Errorf("error_rate (no ratio) took a reference: %+v", got["errors"])
	}
}
