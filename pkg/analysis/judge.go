// Package analysis measures rollouts and judges the measurements: metric
// sources (the builtin router's stats, Prometheus) and judges (thresholds,
// ratio to the previous version, the mSPRT sequential test, Thompson
// sampling, shadow agreement, Mann–Whitney on latencies). Judges are pure.
package analysis

import (
	"fmt"
	"math"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Verdict is a judge's answer for one measurement.
type Verdict int

const (
	NoData Verdict = iota // too few requests/samples: neither pass nor fail
	Pass
	Fail
)

func (v Verdict) String() string {
	switch v {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	}
	return "no_data"
}

// Measurement is one check measured over one interval for the version under
// test, with the previous (baseline) version's value in the same window.
type Measurement struct {
	Check       string
	Version     string
	Value       float64
	Baseline    float64
	HasBaseline bool
	Requests    int64 // requests the value is based on (router source); -1 if unknown
	// BaselineRequests is the baseline's request count (router source);
	// 0 if unknown.
	BaselineRequests int64
	// Drift is output_drift's evidence (Value is its PSI); nil when there
	// was nothing to compare with.
	Drift *behaviour.Drift
	// Reference says the baseline is the previous version's answers kept
	// from its last windows with live traffic (ReferenceWindows of them),
	// because it gets none now (the final bake, all_at_once).
	Reference        bool
	ReferenceWindows int
	// Moments and BaselineMoments are the per-answer moments behind
	// output_mean and the label metrics (N 0: unknown); the judge bounds
	// the value and the ratio with them.
	Moments, BaselineMoments behaviour.Moments
	// Windows is how many measurement windows a label metric pooled its
	// labels over (0 or 1: this window only).
	Windows int
}

// ErrorRateConfidence is the one-sided confidence with which Judge must
// see an error_rate above its max before failing it, when the request
// count is known (see Judge).
const ErrorRateConfidence = 0.99

// zErrorRate is the standard normal quantile of ErrorRateConfidence.
const zErrorRate = 2.3263478740408408

// Judge decides one check on one measurement: min/max thresholds, max_ratio
// to the baseline, and min_requests (NoData below it, and for a value that
// is not a number). Any failing part fails the check; if no part could be
// judged, NoData. An error_rate with a known request count is a binomial
// proportion: it fails only when its one-sided Wilson lower bound at
// ErrorRateConfidence is past the threshold, so that noise on a few hundred
// requests does not roll back a healthy canary (bench/RESULTS.md,
// "analysis"). The reason reads like `error_rate 0.052 > max 0.01`.
func Judge(c *spec.Check, m Measurement) (Verdict, string) {
	label := c.Metric
	if label == "" {
		label = c.Name
	}
	if m.Requests >= 0 && m.Requests < int64(c.MinRequests) {
		return NoData, fmt.Sprintf("%s: %d %s%s < min_requests %d", label, m.Requests, countUnit(c), pooledNote(m), c.MinRequests)
	}
	if m.Requests == 0 {
		where := " in the window"
		if m.Windows > 1 {
			where = pooledNote(m)
		}
		return NoData, fmt.Sprintf("%s: no %s%s", label, countUnit(c), where)
	}
	if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
		return NoData, fmt.Sprintf("%s: no value", label)
	}
	if c.Metric == "output_drift" {
		return judgeDrift(c, m)
	}
	if isBehaviour(c.Metric) {
		m = withAccuracyMoments(c, m)
		if m.Moments.N > 0 {
			return judgeBounded(c, m)
		}
	}
	var fails, passes []string
	judged := false
	if c.Max != nil {
		judged = true
		max := *c.Max
		if m.Value > max {
			if c.Metric == "error_rate" && m.Requests > 0 {
				n := float64(m.Requests)
				lo, _ := wilson(math.Round(m.Value*n), n, zErrorRate)
				if lo > max {
					fails = append(fails, fmt.Sprintf("%s %s > max %s (99%% lower bound %s over %d requests)",
						label, num(m.Value), num(max), num(lo), m.Requests))
				} else {
					passes = append(passes, fmt.Sprintf("%s %s above max %s within noise (99%% lower bound %s over %d requests)",
						label, num(m.Value), num(max), num(lo), m.Requests))
				}
			} else {
				fails = append(fails, fmt.Sprintf("%s %s > max %s", label, num(m.Value), num(max)))
			}
		} else {
			passes = append(passes, fmt.Sprintf("%s %s <= max %s", label, num(m.Value), num(max)))
		}
	}
	if c.Min != nil {
		judged = true
		if m.Value < *c.Min {
			fails = append(fails, fmt.Sprintf("%s %s < min %s", label, num(m.Value), num(*c.Min)))
		} else {
			passes = append(passes, fmt.Sprintf("%s %s >= min %s", label, num(m.Value), num(*c.Min)))
		}
	}
	for _, r := range ratioBoundsOf(c) {
		judgedRatio, f, p := judgeRatio(c, m, label, r.bound, r.below)
		judged = judged || judgedRatio
		fails = append(fails, f...)
		passes = append(passes, p...)
	}

	switch {
	case len(fails) > 0:
		return Fail, strings.Join(fails, "; ")
	case !judged:
		if len(passes) == 0 {
			return NoData, fmt.Sprintf("%s: nothing to judge (no min, max, max_ratio or min_ratio)", label)
		}
		return NoData, strings.Join(passes, "; ")
	}
	return Pass, strings.Join(passes, "; ")
}

// ratioBound is a check's max_ratio (below false) or min_ratio.
type ratioBound struct {
	bound float64
	below bool
}

// ratioBoundsOf lists the ratio thresholds a check sets.
func ratioBoundsOf(c *spec.Check) []ratioBound {
	var out []ratioBound
	if c.MaxRatio != nil {
		out = append(out, ratioBound{*c.MaxRatio, false})
	}
	if c.MinRatio != nil {
		out = append(out, ratioBound{*c.MinRatio, true})
	}
	return out
}

// judgeRatio judges max_ratio (below false: fails above bound times the
// baseline) or min_ratio (below true: fails under it). A binomial
// proportion with both counts known (error_rate) is judged by a one-sided
// z-test of p - r·q at ErrorRateConfidence, z = (p - r·q) / sqrt(p(1-p)/n
// + r²q(1-q)/m), so that a zero baseline is judged too; behaviour metrics
// by judgeBounded. Other ratios compare point values. A baseline kept from before the switch (the
// final bake) is named in the reason.
func judgeRatio(c *spec.Check, m Measurement, label string, bound float64, below bool) (judged bool, fails, passes []string) {
	name, op, okOp := "max_ratio", ">", "<="
	if below {
		name, op, okOp = "min_ratio", "<", ">="
	}
	binomial := m.Requests > 0 && m.BaselineRequests > 0 && c.Metric == "error_rate"
	switch {
	case !m.HasBaseline:
		return false, nil, []string{fmt.Sprintf("%s ratio: no baseline", label)}
	case m.Baseline <= 0 && m.Value > 0 && !binomial:
		return false, nil, []string{fmt.Sprintf("%s ratio: baseline is %s", label, num(m.Baseline))}
	}
	ratio := 1.0
	switch {
	case m.Baseline > 0:
		ratio = m.Value / m.Baseline
	case m.Value > 0:
		ratio = math.Inf(1)
	}
	detail := fmt.Sprintf("%s ratio %.2f", label, ratio)
	vs := fmt.Sprintf("(%.3f vs %.3f%s)", m.Value, m.Baseline, referenceNote(m))
	outside := ratio > bound
	if below {
		outside = ratio < bound
	}
	if !outside {
		return true, nil, []string{fmt.Sprintf("%s %s %s %s %s", detail, okOp, name, num(bound), vs)}
	}
	if !binomial {
		return true, []string{fmt.Sprintf("%s %s %s %s %s", detail, op, name, num(bound), vs)}, nil
	}
	p, q := m.Value, m.Baseline
	n, nb := float64(m.Requests), float64(m.BaselineRequests)
	z := math.Inf(1)
	if se := math.Sqrt(p*(1-p)/n + bound*bound*q*(1-q)/nb); se > 0 {
		z = (p - bound*q) / se
	}
	if below {
		z = -z
	}
	vs = fmt.Sprintf("(%.3f vs %.3f, z %.2f over %d and %d requests%s)", m.Value, m.Baseline, math.Abs(z), m.Requests, m.BaselineRequests, referenceNote(m))
	if z > zErrorRate {
		return true, []string{fmt.Sprintf("%s %s %s %s %s", detail, op, name, num(bound), vs)}, nil
	}
	side := "above"
	if below {
		side = "below"
	}
	return true, nil, []string{fmt.Sprintf("%s %s %s %s within noise %s", detail, side, name, num(bound), vs)}
}

// num formats a value with up to 4 significant digits and no trailing
// zeros: 0.052, 0.01, 1.2, 250.
func num(v float64) string {
	return fmt.Sprintf("%.4g", v)
}

// ShadowVerdict is the judgement of a shadow's agreement with the live model.
type ShadowVerdict struct {
	Decided   bool // enough samples
	Passed    bool
	Agreement float64
	Lower     float64 // lower bound of the 95% interval (Wilson)
	Upper     float64
	Samples   int64
}

// JudgeShadow decides a shadow assessment from compared pairs. It is
// decided once pairs >= minSamples, and passes when the observed agreement
// (the point estimate, as SPEC's "passes at or above this agreement rate"
// says) is at least minAgreement. Lower and Upper are the two-sided 95%
// Wilson interval, reported beside it so that a reader sees how sure the
// verdict is; Passed is false until Decided.
func JudgeShadow(pairs, agreements int64, minAgreement float64, minSamples int64) ShadowVerdict {
	v := ShadowVerdict{Samples: pairs, Upper: 1}
	if pairs <= 0 {
		return v
	}
	if agreements > pairs {
		agreements = pairs
	}
	if agreements < 0 {
		agreements = 0
	}
	n := float64(pairs)
	v.Agreement = float64(agreements) / n
	v.Lower, v.Upper = wilson(float64(agreements), n, z95)
	v.Decided = pairs >= minSamples
	v.Passed = v.Decided && v.Agreement >= minAgreement
	return v
}
