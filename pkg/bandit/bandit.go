// Package bandit is Thompson sampling on Beta posteriors with an explore
// floor: the one implementation that the engine (pkg/analysis: P(best)
// and the weights it reports) and the builtin router (pkg/router: the arm
// of each request and the split of sticky keys) share, so that the split
// the engine reports is the split the router serves.
//
// The explore floor is one formula, Shares: every arm keeps floor, and
// the rest, 1 - k·floor for k arms, follows P(best) (probability
// matching). Pick serves exactly that per request: it explores uniformly
// with probability k·floor, and otherwise takes the arm with the largest
// posterior draw, which is the best arm with probability P(best).
package bandit

import (
	"math"
	"math/rand/v2"
)

// Beta is a Beta(A, B) posterior.
type Beta struct{ A, B float64 }

// Posterior is the Beta(1+sum, 1+n-sum) posterior of n rewards in [0,1]
// summing to sum, from a Beta(1,1) prior. Rewards that are not 0/1 use
// the fractional update (sum clamped to [0, n]), the posterior
// mean-matching update for bounded rewards.
func Posterior(n, sum float64) Beta {
	n = math.Max(n, 0)
	s := math.Min(math.Max(sum, 0), n)
	return Beta{1 + s, 1 + n - s}
}

// Sample draws from the posterior as X/(X+Y) with X, Y gamma variates.
func (b Beta) Sample(r *rand.Rand) float64 {
	x := gamma(r, b.A)
	y := gamma(r, b.B)
	if x+y == 0 {
		return 0.5
	}
	return x / (x + y)
}

// gamma draws from Gamma(shape, 1) by Marsaglia and Tsang (2000),
// boosting shapes below 1.
func gamma(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := r.Float64()
		return gamma(r, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// Thompson draws once from each posterior and returns the index of the
// largest draw: one Thompson sampling decision. No arms: -1.
func Thompson(r *rand.Rand, arms []Beta) int {
	best, bestV := -1, -1.0
	for i, a := range arms {
		if v := a.Sample(r); v > bestV {
			best, bestV = i, v
		}
	}
	return best
}

// Pick chooses the arm of one request: uniformly at random with
// probability k·floor (every arm when k·floor ≥ 1), else by Thompson. Over
// many requests arm i gets Shares(ProbBest(arms), floor)[i] percent.
func Pick(r *rand.Rand, arms []Beta, floor float64) int {
	if len(arms) == 0 {
		return -1
	}
	if r.Float64() < floor*float64(len(arms)) {
		return r.IntN(len(arms))
	}
	return Thompson(r, arms)
}

// ProbBest estimates, for each arm, the probability that it has the
// highest mean, by Monte Carlo with draws Thompson decisions.
func ProbBest(r *rand.Rand, arms []Beta, draws int) []float64 {
	if len(arms) == 0 || draws <= 0 {
		return nil
	}
	wins := make([]int, len(arms))
	for d := 0; d < draws; d++ {
		wins[Thompson(r, arms)]++
	}
	out := make([]float64, len(arms))
	for i, w := range wins {
		out[i] = float64(w) / float64(draws)
	}
	return out
}

// Shares is the split, in percent summing to 100, that an explore floor
// (a fraction, 0..1) gives arms whose probabilities of being best are
// probBest: floor + (1 - k·floor)·P(best) each, so at least floor·100;
// an equal split when k·floor ≥ 1 or when probBest sums to nothing.
func Shares(probBest []float64, floor float64) []float64 {
	k := len(probBest)
	if k == 0 {
		return nil
	}
	floor = math.Max(floor, 0)
	total := 0.0
	for _, p := range probBest {
		total += math.Max(p, 0)
	}
	out := make([]float64, k)
	for i, p := range probBest {
		if floor*float64(k) >= 1 || total <= 0 {
			out[i] = 100 / float64(k)
			continue
		}
		out[i] = 100 * (floor + (1-floor*float64(k))*math.Max(p, 0)/total)
	}
	return out
}
