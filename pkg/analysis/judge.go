// Package analysis measures rollouts and judges the measurements: metric
// sources (the builtin router's stats, Prometheus) and judges (thresholds,
// ratio to the previous version, the mSPRT sequential test, Thompson
// sampling, shadow agreement, Mann–Whitney on latencies). Judges are pure.
package analysis

import "github.com/switchyard-dev/switchyard/pkg/spec"

// CONTRACT: the signatures in this file are used by pkg/rollout. The bodies
// are placeholders until pkg/analysis is implemented; keep the signatures.

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
}

// Judge decides one check on one measurement: min/max thresholds, max_ratio
// to the baseline, and min_requests (NoData below it). The reason reads
// like `error_rate 0.052 > max 0.01`.
func Judge(c *spec.Check, m Measurement) (Verdict, string) {
	panic("analysis.Judge: not implemented yet")
}

// Arm is one variant's outcomes: N observations whose sum and sum of
// squares are Sum and SumSq (conversions: Sum = successes, SumSq = Sum).
type Arm struct {
	Name  string
	N     int64
	Sum   float64
	SumSq float64
}

// ABResult is the sequential test's state after the data so far.
type ABResult struct {
	Decided bool
	Winner  string  // "" when not decided or no difference
	PValue  float64 // always-valid p-value
	Lift    float64 // (mean_b - mean_a) / mean_a
}

// SequentialTest is the mSPRT (Johari et al. 2017) on two arms, valid under
// continuous monitoring; nothing is decided before both have minSamples.
func SequentialTest(a, b Arm, alpha float64, minSamples int64) ABResult {
	panic("analysis.SequentialTest: not implemented yet")
}

// ProbBest estimates, for each arm, the probability that it has the highest
// mean under Beta(1+Sum, 1+N-Sum) posteriors, by Monte Carlo with draws
// samples from a generator seeded with seed. Same order as arms.
func ProbBest(arms []Arm, draws int, seed uint64) []float64 {
	panic("analysis.ProbBest: not implemented yet")
}

// BanditWeights turns P(best) into traffic percentages (probability
// matching) that sum to 100, each at least floor*100.
func BanditWeights(probBest []float64, floor float64) []float64 {
	panic("analysis.BanditWeights: not implemented yet")
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

// JudgeShadow decides a shadow assessment from compared pairs.
func JudgeShadow(pairs, agreements int64, minAgreement float64, minSamples int64) ShadowVerdict {
	panic("analysis.JudgeShadow: not implemented yet")
}
