package analysis

import (
	"math"
	"math/rand/v2"
)

// DefaultDraws is the Monte Carlo sample count ProbBest uses when asked
// for none: the standard error of each probability is then at most 0.005.
const DefaultDraws = 10000

// ProbBest estimates, for each arm, the probability that it has the highest
// mean under Beta(1+Sum, 1+N-Sum) posteriors, by Monte Carlo with draws
// samples from a generator seeded with seed. Same order as arms.
//
// Rewards in [0,1] that are not 0/1 use the fractional Beta update: Sum is
// added to the successes as is (Sum clamped to [0, N]), which is the
// posterior mean-matching update for bounded rewards (Agrawal & Goyal's
// Bernoulli trick gives the same expectation with extra noise).
func ProbBest(arms []Arm, draws int, seed uint64) []float64 {
	if len(arms) == 0 {
		return nil
	}
	if draws <= 0 {
		draws = DefaultDraws
	}
	r := NewRand(seed)
	wins := make([]int, len(arms))
	for d := 0; d < draws; d++ {
		best, bestV := 0, -1.0
		for i, a := range arms {
			al, be := a.posterior()
			if v := sampleBeta(r, al, be); v > bestV {
				best, bestV = i, v
			}
		}
		wins[best]++
	}
	out := make([]float64, len(arms))
	for i, w := range wins {
		out[i] = float64(w) / float64(draws)
	}
	return out
}

// NewRand is the generator every seeded judge and simulation uses: PCG
// from math/rand/v2.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// posterior is the Beta(1+Sum, 1+N-Sum) posterior of an arm.
func (a Arm) posterior() (alpha, beta float64) {
	n := math.Max(float64(a.N), 0)
	s := math.Min(math.Max(a.Sum, 0), n)
	return 1 + s, 1 + n - s
}

// ThompsonChoose draws one sample from each arm's posterior and returns
// the index of the largest: one Thompson sampling decision.
func ThompsonChoose(r *rand.Rand, arms []Arm) int {
	best, bestV := 0, -1.0
	for i, a := range arms {
		al, be := a.posterior()
		if v := sampleBeta(r, al, be); v > bestV {
			best, bestV = i, v
		}
	}
	return best
}

// sampleBeta draws from Beta(a, b) as X/(X+Y) with X, Y gamma variates.
func sampleBeta(r *rand.Rand, a, b float64) float64 {
	x := sampleGamma(r, a)
	y := sampleGamma(r, b)
	if x+y == 0 {
		return 0.5
	}
	return x / (x + y)
}

// sampleGamma draws from Gamma(shape, 1) by Marsaglia and Tsang (2000),
// boosting shapes below 1.
func sampleGamma(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := r.Float64()
		return sampleGamma(r, shape+1) * math.Pow(u, 1/shape)
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
		if u < 1-0.0331*x*x*x*x {
			return d * v
		}
		if math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// BanditWeights turns P(best) into traffic percentages (probability
// matching) that sum to 100, each at least floor*100. Arms whose share
// would fall below the floor are raised to it and the rest is shared in
// proportion to P(best); a floor too large for every arm to keep
// (floor·n ≥ 1) gives an equal split.
func BanditWeights(probBest []float64, floor float64) []float64 {
	n := len(probBest)
	if n == 0 {
		return nil
	}
	out := make([]float64, n)
	floor = math.Max(floor, 0)
	if floor*float64(n) >= 1 {
		for i := range out {
			out[i] = 100 / float64(n)
		}
		return out
	}
	fixed := make([]bool, n)
	for {
		nFixed, total := 0, 0.0
		for i, p := range probBest {
			if fixed[i] {
				nFixed++
			} else if p > 0 {
				total += p
			}
		}
		rest := 1 - float64(nFixed)*floor
		changed := false
		for i, p := range probBest {
			if fixed[i] {
				out[i] = floor
				continue
			}
			w := rest / float64(n-nFixed)
			if total > 0 {
				w = rest * math.Max(p, 0) / total
			}
			out[i] = w
			if w < floor {
				fixed[i] = true
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	for i := range out {
		out[i] *= 100
	}
	return out
}
