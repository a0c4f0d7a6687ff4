package analysis

import (
	"math/rand/v2"

	"github.com/switchyard-dev/switchyard/pkg/bandit"
)

// DefaultDraws is the Monte Carlo sample count ProbBest uses when asked
// for none: the standard error of each probability is then at most 0.005.
const DefaultDraws = 10000

// ProbBest estimates, for each arm, the probability that it has the highest
// mean under Beta(1+Sum, 1+N-Sum) posteriors (bandit.Posterior), by Monte
// Carlo with draws samples (0: DefaultDraws) from a generator seeded with
// seed. Same order as arms.
func ProbBest(arms []Arm, draws int, seed uint64) []float64 {
	if draws <= 0 {
		draws = DefaultDraws
	}
	return bandit.ProbBest(NewRand(seed), posteriors(arms), draws)
}

// NewRand is the generator every seeded judge and simulation uses: PCG
// from math/rand/v2.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func posteriors(arms []Arm) []bandit.Beta {
	out := make([]bandit.Beta, len(arms))
	for i, a := range arms {
		out[i] = bandit.Posterior(float64(a.N), a.Sum)
	}
	return out
}

// ThompsonChoose draws one sample from each arm's posterior and returns
// the index of the largest: one Thompson sampling decision.
func ThompsonChoose(r *rand.Rand, arms []Arm) int {
	return bandit.Thompson(r, posteriors(arms))
}

// BanditWeights turns P(best) into traffic percentages that sum to 100 by
// the one explore-floor formula the router serves (bandit.Shares): each
// arm keeps floor·100, the rest follows P(best).
func BanditWeights(probBest []float64, floor float64) []float64 {
	return bandit.Shares(probBest, floor)
}
