package analysis

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// moments of n answers with the given mean and standard deviation.
func moments(n uint64, mean, sd float64) behaviour.Moments {
	nf := float64(n)
	return behaviour.Moments{N: n, Sum: mean * nf, SumSq: (sd*sd + mean*mean) * nf}
}

// binary is the moments of k successes in n (accuracy).
func binary(k, n uint64) behaviour.Moments {
	return behaviour.Moments{N: n, Sum: float64(k), SumSq: float64(k)}
}

// measured is a Measurement of a behaviour metric from its moments, the
// way the Meter fills it.
func measured(metric string, cur, base behaviour.Moments) Measurement {
	m := Measurement{Value: labelValue(metric, cur), Requests: int64(cur.N), Moments: cur}
	if base.N > 0 {
		m.Baseline, m.BaselineRequests, m.HasBaseline, m.BaselineMoments = labelValue(metric, base), int64(base.N), true, base
	}
	return m
}

// The reasons people read in revert commits, status and the runbook, for
// each behaviour metric and verdict (testdata/behaviour_reasons.golden;
// go test -run TestBehaviourReasons -update rewrites it).
func TestBehaviourReasons(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	check := func(metric string, set func(c *spec.Check)) *spec.Check {
		c := &spec.Check{Name: "c", Metric: metric, Output: "/out", MinRequests: 20}
		set(c)
		return c
	}
	max := func(v float64) func(*spec.Check) { return func(c *spec.Check) { c.Max = f(v) } }
	min := func(v float64) func(*spec.Check) { return func(c *spec.Check) { c.Min = f(v) } }
	maxRatio := func(v float64) func(*spec.Check) { return func(c *spec.Check) { c.MaxRatio = f(v) } }
	minRatio := func(v float64) func(*spec.Check) { return func(c *spec.Check) { c.MinRatio = f(v) } }
	none := func(*spec.Check) {}
	oneAnswer := func(c *spec.Check) *spec.Check { c.MinRequests = 1; return c }
	reference := func(m Measurement, windows int) Measurement {
		m.Reference, m.ReferenceWindows = true, windows
		return m
	}
	pooled := func(m Measurement, windows int) Measurement { m.Windows = windows; return m }
	classes := func(n int, p float64) behaviour.Sketch { return classAnswers(rng, n, p) }
	var b strings.Builder
	for _, tc := range []struct {
		name string
		c    *spec.Check
		m    Measurement
	}{
		{"drift numbers shifted", check("output_drift", max(0.1)), driftMeasurement(scores(rng, 812, 1), scores(rng, 7304, 0))},
		{"drift numbers alike", check("output_drift", max(0.1)), driftMeasurement(scores(rng, 812, 0), scores(rng, 7304, 0))},
		{"drift numbers above max within noise", check("output_drift", max(0.1)), driftMeasurement(scores(rng, 300, 0.38), scores(rng, 300, 0))},
		{"drift small window", check("output_drift", max(0.1)), driftMeasurement(scores(rng, 40, 0.5), scores(rng, 40, 0))},
		{"drift classes default max", check("output_drift", none), driftMeasurement(classes(500, 0.2), classes(9500, 0.1))},
		{"drift classes max 0.1", check("output_drift", max(0.1)), driftMeasurement(classes(500, 0.2), classes(9500, 0.1))},
		{"drift numbers default max, kept reference", check("output_drift", none),
			reference(driftMeasurement(scores(rng, 812, 0.6), scores(rng, 3000, 0)), 6)},
		{"output_mean max_ratio sure", check("output_mean", maxRatio(1.25)), measured("output_mean", moments(812, 0.62, 0.2), moments(7304, 0.44, 0.2))},
		{"output_mean max_ratio within noise", check("output_mean", maxRatio(1.25)), measured("output_mean", moments(30, 0.62, 0.3), moments(570, 0.44, 0.3))},
		{"output_mean min_ratio passes", check("output_mean", minRatio(0.8)), measured("output_mean", moments(812, 0.45, 0.2), moments(7304, 0.44, 0.2))},
		{"output_mean max, kept reference", check("output_mean", maxRatio(1.25)),
			reference(measured("output_mean", moments(5000, 0.7, 0.2), moments(3000, 0.44, 0.2)), 6)},
		{"output_mean max sure", check("output_mean", max(0.5)), measured("output_mean", moments(812, 0.62, 0.2), behaviour.Moments{})},
		{"output_mean min within noise", check("output_mean", min(0.5)), measured("output_mean", moments(25, 0.45, 0.3), behaviour.Moments{})},
		{"accuracy min_ratio sure, pooled", check("accuracy", minRatio(0.98)), pooled(measured("accuracy", binary(800, 1000), binary(17100, 19000)), 6)},
		{"accuracy min_ratio within noise", check("accuracy", minRatio(0.98)), measured("accuracy", binary(86, 100), binary(1710, 1900))},
		{"accuracy min_ratio passes", check("accuracy", minRatio(0.98)), measured("accuracy", binary(450, 500), binary(8550, 9500))},
		{"accuracy min_ratio, kept reference", check("accuracy", minRatio(0.98)),
			reference(pooled(measured("accuracy", binary(1200, 1500), binary(2700, 3000)), 6), 6)},
		{"accuracy min sure", check("accuracy", min(0.9)), measured("accuracy", binary(600, 1000), behaviour.Moments{})},
		{"accuracy min within noise", check("accuracy", min(0.9)), measured("accuracy", binary(88, 100), behaviour.Moments{})},
		{"mae max sure", check("mae", max(0.2)), measured("mae", moments(812, 0.31, 0.25), behaviour.Moments{})},
		{"mae max within noise", check("mae", max(0.2)), measured("mae", moments(20, 0.31, 0.25), behaviour.Moments{})},
		{"rmse max_ratio sure", check("rmse", maxRatio(1.2)), measured("rmse", moments(5000, 0.25, 0.3), moments(9000, 0.16, 0.2))},
		{"rmse max within noise", check("rmse", max(0.4)), measured("rmse", moments(30, 0.25, 0.3), behaviour.Moments{})},
		{"log_loss max_ratio sure", check("log_loss", maxRatio(1.1)), measured("log_loss", moments(2000, 0.41, 0.5), moments(9000, 0.33, 0.45))},
		{"log_loss max passes", check("log_loss", max(0.5)), measured("log_loss", moments(2000, 0.41, 0.5), behaviour.Moments{})},
		{"log_loss ratio without a baseline", check("log_loss", maxRatio(1.1)), measured("log_loss", moments(2000, 0.41, 0.5), behaviour.Moments{})},
		{"output_mean turned negative, min_ratio", check("output_mean", minRatio(0.8)), measured("output_mean", moments(500, -0.2, 0.3), moments(500, 0.4, 0.3))},
		{"output_mean max_ratio on one answer, min_requests 1", oneAnswer(check("output_mean", maxRatio(1.25))), measured("output_mean", moments(1, 0.9, 0), moments(500, 0.44, 0.2))},
		{"mae max on one label, min_requests 1", oneAnswer(check("mae", max(0.2))), measured("mae", moments(1, 0.5, 0), behaviour.Moments{})},
		{"mae ratio on a zero baseline", check("mae", maxRatio(1.1)), measured("mae", moments(2000, 0.41, 0.5), moments(100, 0, 0))},
	} {
		v, reason := Judge(tc.c, tc.m)
		fmt.Fprintf(&b, "%s\n\t%s: %s\n", tc.name, v, reason)
	}
	golden(t, filepath.Join("testdata", "behaviour_reasons.golden"), b.String())
}

// golden compares got with a file in testdata, or rewrites it (-update).
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update after checking the change):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
