package behaviour

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestChi2CDFKnownValues(t *testing.T) {
	for _, tc := range []struct{ x, df, lambda, want float64 }{
		{3.841458820694124, 1, 0, 0.95},
		{16.918977604620448, 9, 0, 0.95},
		{2, 2, 0, 1 - math.Exp(-1)},
		// the Poisson mixture in closed form for even df: 0.783763181681781
		{10, 4, 3, 0.783763181681781},
	} {
		if got := chi2CDF(tc.x, tc.df, tc.lambda); math.Abs(got-tc.want) > 1e-4 {
			t.Errorf("chi2CDF(%v, %v, %v) = %v, want %v", tc.x, tc.df, tc.lambda, got, tc.want)
		}
	}
}

// The noncentral CDF matches a simulation of sums of squared shifted
// normals.
func TestChi2CDFMatchesSimulation(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const df, lambda, trials = 5, 12.0, 40000
	shift := math.Sqrt(lambda) // all on one coordinate
	x := 20.0
	below := 0
	for range trials {
		s := 0.0
		for i := 0; i < df; i++ {
			z := rng.NormFloat64()
			if i == 0 {
				z += shift
			}
			s += z * z
		}
		if s <= x {
			below++
		}
	}
	sim := float64(below) / trials
	if got := chi2CDF(x, df, lambda); math.Abs(got-sim) > 0.01 {
		t.Fatalf("chi2CDF(20, 5, 12) = %v, simulation %v", got, sim)
	}
}

func TestLambdaLowerInvertsTheQuantile(t *testing.T) {
	for _, lambda := range []float64{0.5, 5, 50, 500, 3000} {
		x := chi2Quantile(0.9, 9, lambda)
		if got := lambdaLower(x, 9, 0.9); math.Abs(got-lambda) > 1e-4*math.Max(lambda, 1) {
			t.Errorf("lambdaLower(q90(9, %v)) = %v", lambda, got)
		}
	}
	if got := lambdaLower(5, 9, 0.9); got != 0 {
		t.Errorf("a statistic below the central quantile: lower bound %v, want 0", got)
	}
}
