package analysis

import "math"

// Arm is one variant's outcomes: N observations whose sum and sum of
// squares are Sum and SumSq (conversions: Sum = successes, SumSq = Sum).
type Arm struct {
	Name  string
	N     int64
	Sum   float64
	SumSq float64
}

// Mean is Sum/N, 0 without observations.
func (a Arm) Mean() float64 {
	if a.N <= 0 {
		return 0
	}
	return a.Sum / float64(a.N)
}

// binary reports whether every observation was 0 or 1 (then SumSq = Sum).
func (a Arm) binary() bool {
	return math.Abs(a.SumSq-a.Sum) <= 1e-9*math.Max(1, a.Sum)
}

// ABResult is the sequential test's state after the data so far.
type ABResult struct {
	Decided bool
	Winner  string  // "" when not decided or no difference
	PValue  float64 // always-valid p-value
	Lift    float64 // (mean_b - mean_a) / mean_a; 0 when mean_a is 0
}

// MixingSD is the standard deviation of the mSPRT's normal mixing
// distribution over the difference of means, in units of the
// per-observation standard deviation: tau² = MixingSD² · sigma². It says
// which effects the test is tuned for. 0.05 puts most of its mass on
// standardized effects up to ~0.1 (a 5% → 6% conversion lift is 0.044);
// larger effects are still found, just not in the fewest samples
// (Johari et al. 2017, section 4: tau should match the effects expected).
const MixingSD = 0.05

// MinObservations is the fewest observations per arm before the mSPRT
// weighs any evidence: below it the variance estimate is too rough for
// the normal approximation, and because the always-valid p-value keeps
// its running minimum, an early fluke would otherwise last forever.
const MinObservations = 30

// minP keeps an always-valid p-value positive, so that 0 can mean "no
// previous look" in SequentialStep.
const minP = 1e-300

// SequentialTest is the mSPRT (Johari et al. 2017) on two arms, valid under
// continuous monitoring; nothing is decided before both have minSamples.
//
// It sees only the cumulative data, so its PValue is 1/Λ now, not the
// running minimum over earlier looks; a caller that looks repeatedly keeps
// the running minimum with SequentialStep (or Sequential), which is what
// makes the p-value always valid and non-increasing.
//
// Proportions (both arms binary: SumSq = Sum) use the pooled rate
// p̄(1-p̄) as the variance; other means use the pooled sample variance.
// Either way the difference of means is taken as normal with variance
// sigma²(1/n_a + 1/n_b), and mixed over N(0, tau²), tau = MixingSD·sigma:
//
//	Λ = sqrt(s²/(s²+tau²)) · exp(d² tau² / (2 s² (s²+tau²))),  s² = sigma²(1/n_a+1/n_b)
//
// which for n_a = n_b = n is the paper's formula with V = 2 sigma².
func SequentialTest(a, b Arm, alpha float64, minSamples int64) ABResult {
	return SequentialStep(0, a, b, alpha, minSamples)
}

// SequentialStep is SequentialTest after an earlier look whose always-valid
// p-value was prevP (0 or less: no earlier look). The returned PValue is
// min(prevP, 1/Λ): non-increasing across looks, so it can be stored in the
// engine's state and passed back next interval.
func SequentialStep(prevP float64, a, b Arm, alpha float64, minSamples int64) ABResult {
	p := 1 / MixtureLR(a, b, MixingSD)
	if prevP > 0 && prevP < p {
		p = prevP
	}
	p = math.Max(math.Min(p, 1), minP)
	r := ABResult{PValue: p}
	ma, mb := a.Mean(), b.Mean()
	if ma != 0 {
		r.Lift = (mb - ma) / ma
	}
	if p <= alpha && a.N >= minSamples && b.N >= minSamples && ma != mb {
		r.Decided = true
		r.Winner = a.Name
		if mb > ma {
			r.Winner = b.Name
		}
	}
	return r
}

// Sequential keeps an A/B test's always-valid p-value across looks. It is
// a plain value (JSON-serializable) for the engine's state.
type Sequential struct {
	Alpha      float64 `json:"alpha"`
	MinSamples int64   `json:"min_samples"`
	PValue     float64 `json:"p_value"` // 0 before the first look
	Looks      int     `json:"looks"`
}

// Look updates the running p-value with the cumulative data so far.
func (s *Sequential) Look(a, b Arm) ABResult {
	r := SequentialStep(s.PValue, a, b, s.Alpha, s.MinSamples)
	s.PValue = r.PValue
	s.Looks++
	return r
}

// MixtureLR is the mSPRT's mixture likelihood ratio Λ of "the means
// differ" against "they are equal" for arms a and b, with the mixing
// standard deviation tauSD in per-observation standard deviations. It is
// 1 (no evidence) while either arm has fewer than MinObservations or the
// pooled variance is 0.
func MixtureLR(a, b Arm, tauSD float64) float64 {
	return math.Exp(logMixtureLR(a, b, tauSD))
}

func logMixtureLR(a, b Arm, tauSD float64) float64 {
	if a.N < MinObservations || b.N < MinObservations {
		return 0
	}
	d, sigma2, s2, ok := difference(a, b)
	if !ok {
		return 0
	}
	t2 := tauSD * tauSD * sigma2
	return 0.5*math.Log(s2/(s2+t2)) + d*d*t2/(2*s2*(s2+t2))
}

// difference is mean_b - mean_a, the per-observation variance sigma²
// (pooled rate p̄(1-p̄) when both arms are binary, else the pooled sample
// variance), and the variance of the difference sigma²(1/n_a + 1/n_b);
// ok is false without at least 2 observations per arm or with sigma² = 0.
func difference(a, b Arm) (d, sigma2, s2 float64, ok bool) {
	if a.N < 2 || b.N < 2 {
		return 0, 0, 0, false
	}
	na, nb := float64(a.N), float64(b.N)
	if a.binary() && b.binary() {
		pool := (a.Sum + b.Sum) / (na + nb)
		sigma2 = pool * (1 - pool)
	} else {
		sigma2 = (a.SumSq - a.Sum*a.Sum/na + b.SumSq - b.Sum*b.Sum/nb) / (na + nb - 2)
	}
	if !(sigma2 > 0) {
		return 0, 0, 0, false
	}
	return b.Sum/nb - a.Sum/na, sigma2, sigma2 * (1/na + 1/nb), true
}

// ZTest is the fixed-horizon two-sided z-test of the same difference,
// with the same variance estimate: the naive test whose repeated use
// inflates false winners (kept for comparison in simulations and
// reports).
func ZTest(a, b Arm) (z, p float64) {
	d, _, s2, ok := difference(a, b)
	if !ok {
		return 0, 1
	}
	z = d / math.Sqrt(s2)
	return z, 2 * normalSF(math.Abs(z))
}
