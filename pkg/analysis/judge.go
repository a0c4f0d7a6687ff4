// Package analysis measures rollouts and judges the measurements: metric
// sources (the builtin router's stats, Prometheus) and judges (thresholds,
// ratio to the previous version, the mSPRT sequential test, Thompson
// sampling, shadow agreement, Mann–Whitney on latencies). Judges are pure.
package analysis

import (
	"fmt"
	"math"
	"strings"

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
		return NoData, fmt.Sprintf("%s: %d requests < min_requests %d", label, m.Requests, c.MinRequests)
	}
	if m.Requests == 0 {
		return NoData, fmt.Sprintf("%s: no requests in the window", label)
	}
	if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
		return NoData, fmt.Sprintf("%s: no value", label)
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
	if c.MaxRatio != nil {
		judgedRatio, f, p := judgeRatio(c, m, label)
		judged = judged || judgedRatio
		fails = append(fails, f...)
		passes = append(passes, p...)
	}

	switch {
	case len(fails) > 0:
		return Fail, strings.Join(fails, "; ")
	case !judged:
		if len(passes) == 0 {
			return NoData, fmt.Sprintf("%s: nothing to judge (no min, max or max_ratio)", label)
		}
		return NoData, strings.Join(passes, "; ")
	}
	return Pass, strings.Join(passes, "; ")
}

// judgeRatio judges max_ratio. An error_rate with both request counts
// known is two binomial proportions: it fails only when the canary's rate
// is above max_ratio times the baseline's by a one-sided z-test at
// ErrorRateConfidence, z = (p - r·q) / sqrt(p(1-p)/n + r²q(1-q)/m), so
// that a zero baseline is judged too. Other ratios compare point values.
func judgeRatio(c *spec.Check, m Measurement, label string) (judged bool, fails, passes []string) {
	mr := *c.MaxRatio
	binomial := c.Metric == "error_rate" && m.Requests > 0 && m.BaselineRequests > 0
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
	vs := fmt.Sprintf("(%.3f vs %.3f)", m.Value, m.Baseline)
	if !binomial {
		if ratio > mr {
			return true, []string{fmt.Sprintf("%s > max_ratio %s %s", detail, num(mr), vs)}, nil
		}
		return true, nil, []string{fmt.Sprintf("%s <= max_ratio %s %s", detail, num(mr), vs)}
	}
	if ratio <= mr {
		return true, nil, []string{fmt.Sprintf("%s <= max_ratio %s %s", detail, num(mr), vs)}
	}
	p, q := m.Value, m.Baseline
	n, nb := float64(m.Requests), float64(m.BaselineRequests)
	z := math.Inf(1)
	if se := math.Sqrt(p*(1-p)/n + mr*mr*q*(1-q)/nb); se > 0 {
		z = (p - mr*q) / se
	}
	counts := fmt.Sprintf("z %.2f over %d and %d requests", z, m.Requests, m.BaselineRequests)
	vs = fmt.Sprintf("(%.3f vs %.3f, %s)", m.Value, m.Baseline, counts)
	if z > zErrorRate {
		return true, []string{fmt.Sprintf("%s > max_ratio %s %s", detail, num(mr), vs)}, nil
	}
	return true, nil, []string{fmt.Sprintf("%s above max_ratio %s within noise %s", detail, num(mr), vs)}
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
