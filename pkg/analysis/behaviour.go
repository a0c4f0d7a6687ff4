package analysis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// BehaviourConfidence is the one-sided confidence with which output_mean
// and the label metrics (accuracy, mae, rmse, log_loss) must see the
// value or its ratio to the previous version past a threshold before
// failing: 99.9%, so that a rollout of 24 measurements rolls back a
// healthy canary in under 1% of rollouts at 50 to 5,000 answers per
// interval, labels arriving late (bench/RESULTS.md, "behaviour checks").
const BehaviourConfidence = 0.999

// zBehaviour is the standard normal quantile of BehaviourConfidence.
const zBehaviour = 3.090232306167813

// labelMetrics are scored from labels posted as feedback.
var labelMetrics = []string{"accuracy", "mae", "rmse", "log_loss"}

// countUnit names what a check's Requests count: labelled answers for
// the label metrics, answers for the output metrics, else requests.
func countUnit(c *spec.Check) string {
	switch {
	case isLabelMetric(c.Metric):
		return "labelled answers"
	case c.Metric == "output_drift" || c.Metric == "output_mean":
		return "answers"
	}
	return "requests"
}

// withAccuracyMoments gives an accuracy known only as a value over a
// count of labelled answers (a source without moments) its moments: a
// binomial proportion.
func withAccuracyMoments(c *spec.Check, m Measurement) Measurement {
	if c.Metric != "accuracy" {
		return m
	}
	if m.Moments.N == 0 && m.Requests > 0 {
		k := math.Round(m.Value * float64(m.Requests))
		m.Moments = behaviour.Moments{N: uint64(m.Requests), Sum: k, SumSq: k}
	}
	if m.BaselineMoments.N == 0 && m.HasBaseline && m.BaselineRequests > 0 {
		k := math.Round(m.Baseline * float64(m.BaselineRequests))
		m.BaselineMoments = behaviour.Moments{N: uint64(m.BaselineRequests), Sum: k, SumSq: k}
	}
	return m
}

// judgeDrift judges output_drift: it fails only when the PSI's lower
// confidence bound is above max, and gives no data when the window is too
// small to tell a PSI of max from noise. The reason reads like
// `output_drift PSI 0.31 > max 0.1 (90% lower bound 0.22, 812 vs 7,304
// answers)`.
func judgeDrift(c *spec.Check, m Measurement) (Verdict, string) {
	d := m.Drift
	if d == nil {
		return NoData, "output_drift: no baseline (the previous version has no answers in the window, and none were kept from before)"
	}
	max, deflt := d.DefaultMax(), ""
	if c.Max != nil {
		max = *c.Max
	} else if d.Classes {
		deflt = ", the default for classes"
	} else {
		deflt = ", the default"
	}
	counts := fmt.Sprintf("%s vs %s answers", thousands(int64(d.N)), thousands(int64(d.M)))
	if m.Reference {
		counts = fmt.Sprintf("%s answers vs %s kept from the previous version's last %d windows before the switch",
			thousands(int64(d.N)), thousands(int64(d.M)), m.ReferenceWindows)
	}
	bound := fmt.Sprintf("%s lower bound %s, %s", pct(behaviour.DriftConfidence), short(d.Lower), counts)
	if !d.Resolves(max) {
		return NoData, fmt.Sprintf("output_drift PSI %s: too few answers to tell a PSI of %s from noise (%s)", short(d.PSI), num(max), counts)
	}
	switch {
	case d.Fails(max):
		return Fail, fmt.Sprintf("output_drift PSI %s > max %s%s (%s)", short(d.PSI), num(max), deflt, bound)
	case d.PSI > max:
		return Pass, fmt.Sprintf("output_drift PSI %s above max %s%s within noise (%s)", short(d.PSI), num(max), deflt, bound)
	}
	return Pass, fmt.Sprintf("output_drift PSI %s <= max %s%s (%s)", short(d.PSI), num(max), deflt, bound)
}

// referenceNote is the part of a ratio's reason that says the baseline is
// the previous version's answers from before the switch.
func referenceNote(m Measurement) string {
	if !m.Reference {
		return ""
	}
	return fmt.Sprintf("; baseline from the previous version's last %d windows before the switch", m.ReferenceWindows)
}

// pct writes 0.9 as "90%" and 0.9999 as "99.99%".
func pct(f float64) string {
	return strconv.FormatFloat(f*100, 'f', -1, 64) + "%"
}

// thousands writes 7304 as "7,304".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// isBehaviour says whether a router metric reads answers' outputs.
func isBehaviour(metric string) bool {
	return metric == "output_drift" || metric == "output_mean" || isLabelMetric(metric)
}

// behaviourQuery answers a behaviour metric from the router's output
// sketches and label scores: output_drift passes both sketches on (Meter
// compares them), output_mean is the numeric outputs' mean, the label
// metrics are scored over the labels that arrived in the window.
// Requests counts answers (labelled answers for label metrics).
func behaviourQuery(st traffic.Stats, q Query, vs traffic.VersionStats) (Result, error) {
	if q.Output == "" {
		return Result{}, fmt.Errorf("%s needs the check's output (a JSON pointer)", q.Metric)
	}
	figure := func(vs traffic.VersionStats) (v float64, n int64, sk *behaviour.Sketch, mo behaviour.Moments) {
		switch q.Metric {
		case "output_drift":
			s := vs.Outputs[q.Output]
			return math.NaN(), int64(s.Answers()), &s, mo
		case "output_mean":
			s := vs.Outputs[q.Output]
			return s.Mean(), int64(s.Count), nil, s.Moments()
		}
		mo = vs.Quality[q.Output].Moments(q.Metric)
		return labelValue(q.Metric, mo), int64(mo.N), nil, mo
	}
	r := Result{}
	r.Value, r.Requests, r.Sketch, r.Moments = figure(vs)
	if q.Baseline != "" && q.Baseline != q.Version {
		if bs, ok := st.Find(q.Model, q.Stage, q.Baseline); ok {
			v, n, sk, mo := figure(bs)
			r.BaselineMoments = mo
			if n > 0 && n >= int64(q.MinRequests) {
				r.Baseline, r.BaselineRequests, r.BaselineSketch, r.HasBaseline = v, n, sk, true
			}
		}
	}
	return r, nil
}

// isLabelMetric says whether a metric is scored from labels.
func isLabelMetric(metric string) bool { return slices.Contains(labelMetrics, metric) }

// labelValue is a label metric from its moments: their mean, its square
// root for rmse; NaN without labels.
func labelValue(metric string, mo behaviour.Moments) float64 {
	if squared(metric) {
		return math.Sqrt(mo.Mean())
	}
	return mo.Mean()
}
