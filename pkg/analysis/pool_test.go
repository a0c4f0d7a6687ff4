package analysis

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// labelled is a version's stats with k of n labels correct on /label.
func labelled(version string, requests int64, k, n uint64) traffic.VersionStats {
	vs := traffic.VersionStats{Model: "fraud", Stage: "production", Version: version, Requests: requests}
	if n > 0 {
		vs.Quality = map[string]behaviour.Quality{"/label": {Labelled: n, Correct: k}}
	}
	return vs
}

// Label checks pool the labels of the last 6 windows of each version, so
// that min_requests counts pooled labels; at 100% the previous version's
// kept windows stand in; a new rollout (after Remember) starts afresh.
func TestMeterPoolsLabels(t *testing.T) {
	check := &spec.Check{Name: "quality", Metric: "accuracy", Output: "/label", Source: "router", MinRatio: f(0.98), MinRequests: 100}
	model := &spec.Model{Name: "fraud", Stage: "production", Checks: []*spec.Check{check}}
	var stats traffic.Stats
	mt := Meter{Sources: map[string]Source{"router": RouterSource{Stats: func(context.Context, time.Duration) (traffic.Stats, error) { return stats, nil }}},
		References: NewReferences()}
	measure := func(cur, prev traffic.VersionStats) Measurement {
		t.Helper()
		stats = traffic.Stats{Versions: []traffic.VersionStats{cur, prev}}
		got, err := mt.Measure(context.Background(), model, "v8", "v7", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return got["quality"]
	}
	// 60 labels a window: under min_requests alone, judged from the
	// second window on.
	m := measure(labelled("v8", 100, 48, 60), labelled("v7", 1900, 540, 600))
	if v, r := Judge(check, m); v != NoData || r != "accuracy: 60 labelled answers < min_requests 100" {
		t.Fatalf("first window: %v %q", v, r)
	}
	if m := measure(labelled("v8", 100, 0, 0), labelled("v7", 1900, 540, 600)); m.Windows != 2 || m.Moments.N != 60 {
		t.Fatalf("a window without labels: %+v", m)
	} else if v, r := Judge(check, m); v != NoData || r != "accuracy: 60 labelled answers in the last 2 windows < min_requests 100" {
		t.Fatalf("second window, no labels: %v %q", v, r)
	}
	if v, r := Judge(check, measure(labelled("v8", 100, 48, 60), labelled("v7", 1900, 540, 600))); v != Pass || !strings.Contains(r, "within noise") {
		t.Fatalf("three windows, 120 labels: %v %q", v, r)
	}
	for i := 4; i <= 9; i++ {
		m = measure(labelled("v8", 100, 48, 60), labelled("v7", 1900, 540, 600))
		windows := min(i, DefaultReferenceWindows)
		labels := 60 * (windows - 1) // one window without labels
		if i > DefaultReferenceWindows+1 {
			labels = 60 * windows
		}
		if m.Windows != windows || m.Moments.N != uint64(labels) || m.BaselineMoments.N != uint64(600*windows) || m.Reference {
			t.Fatalf("window %d: %+v", i, m)
		}
	}
	v, r := Judge(check, m)
	if v != Fail || !strings.Contains(r, "0.8 vs 0.9, 360 vs 3,600 labelled answers in the last 6 windows") {
		t.Fatalf("pooled: %v %q", v, r)
	}
	// 100%: v7 answers nothing and gets no more labels.
	m = measure(labelled("v8", 2000, 480, 600), labelled("v7", 0, 0, 0))
	if !m.Reference || m.ReferenceWindows != 6 || m.BaselineMoments.N != 3600 || math.Abs(m.Baseline-0.9) > 1e-12 {
		t.Fatalf("at 100%%: %+v", m)
	}
	if v, r := Judge(check, m); v != Fail || !strings.Contains(r, "kept from the previous version's last 6 windows before the switch") {
		t.Fatalf("at 100%%: %v %q", v, r)
	}
	// Idle: the serving version is remembered, and v8's labels forgotten.
	stats = traffic.Stats{Versions: []traffic.VersionStats{labelled("v7", 2000, 900, 1000)}}
	if err := mt.Remember(context.Background(), model, "v7", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	m = measure(labelled("v8", 100, 27, 30), labelled("v7", 1900, 540, 600))
	if m.Windows != 1 || m.Moments.N != 30 {
		t.Fatalf("a new rollout pooled old labels: %+v", m)
	}
	// Another new version starts its own pool.
	stats = traffic.Stats{Versions: []traffic.VersionStats{labelled("v9", 100, 27, 30), labelled("v7", 1900, 540, 600)}}
	got, _ := mt.Measure(context.Background(), model, "v9", "v7", 10*time.Second)
	if got["quality"].Windows != 1 || got["quality"].Moments.N != 30 {
		t.Fatalf("v9 pooled v8's labels: %+v", got["quality"])
	}
}

// The ratio's bounds bracket the ratio, fail exactly when the one-sided
// test does, and are open above when the baseline may be 0.
func TestRatioBounds(t *testing.T) {
	for _, tc := range []struct{ a, va, n, b, vb, nb float64 }{
		{0.62, 0.04, 812, 0.44, 0.04, 7304},
		{0.8, 0.16, 500, 0.9, 0.09, 9500},
		{0.3, 1, 30, 0.29, 1, 570},
		{5, 0, 100, 4, 0, 100},
		{-0.2, 0.09, 500, 0.4, 0.09, 500},
		{0.01, 0.09, 500, 0.4, 0.09, 500},
	} {
		lo, hi := ratioBounds(tc.a, tc.va, tc.n, tc.b, tc.vb, tc.nb)
		r := tc.a / tc.b
		if lo > r+1e-9 || hi < r-1e-9 {
			t.Errorf("%+v: bounds %v..%v do not hold the ratio %v", tc, lo, hi, r)
		}
		for _, rho := range []float64{-1, -0.5, 0, 0.5, 0.9, 0.98, 1.1, 1.25, 1.5} {
			if rho < 0 && tc.a >= 0 {
				continue // a ratio of values at least 0 is bounded below by 0
			}
			z := ratioZ(tc.a, tc.va, tc.n, tc.b, tc.vb, tc.nb, rho)
			if (z > zBehaviour) != (lo > rho) || (z < -zBehaviour) != (hi < rho) {
				t.Errorf("%+v at %v: z %v but bounds %v..%v", tc, rho, z, lo, hi)
			}
		}
	}
	if lo, hi := ratioBounds(0.3, 1, 30, 0.29, 1, 30); lo != 0 || !math.IsInf(hi, 1) {
		t.Errorf("a baseline not surely above 0 gave bounds %v..%v, want 0..+Inf", lo, hi)
	}
	if lo, hi := ratioBounds(-0.3, 1, 30, 0.29, 1, 30); !math.IsInf(lo, -1) || !math.IsInf(hi, 1) {
		t.Errorf("a negative mean over a baseline not surely above 0 gave bounds %v..%v, want -Inf..+Inf", lo, hi)
	}
}
