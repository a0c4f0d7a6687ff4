package bandit

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The split the engine reports, Shares(ProbBest), is the split Pick
// serves request by request: the router and the engine agree.
func TestPickServesTheReportedShares(t *testing.T) {
	cases := []struct {
		name  string
		arms  []Beta
		floor float64
	}{
		{"one clear winner", []Beta{Posterior(400, 40), Posterior(400, 80), Posterior(400, 60)}, 0.05},
		{"close arms", []Beta{Posterior(100, 50), Posterior(100, 53)}, 0.1},
		{"no data yet", []Beta{Posterior(0, 0), Posterior(0, 0), Posterior(0, 0)}, 0.02},
		{"no floor", []Beta{Posterior(50, 10), Posterior(50, 30)}, 0},
		{"floor for everyone", []Beta{Posterior(900, 10), Posterior(900, 800)}, 0.5},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 7))
			reported := Shares(ProbBest(r, c.arms, 40000), c.floor)
			const requests = 40000
			served := make([]float64, len(c.arms))
			for range requests {
				served[Pick(r, c.arms, c.floor)] += 100.0 / requests
			}
			sum := 0.0
			for j := range reported {
				sum += reported[j]
				// Two Monte Carlo estimates of 40,000 each: a few
				// tenths of a percent apart at most.
				if math.Abs(served[j]-reported[j]) > 1.2 {
					t.Errorf("arm %d: served %.2f%%, reported %.2f%% (all served %.2f, reported %.2f)", j, served[j], reported[j], served, reported)
				}
				if reported[j] < 100*c.floor-1e-9 && c.floor*float64(len(c.arms)) < 1 {
					t.Errorf("arm %d: reported %.2f%% below the floor %.2f", j, reported[j], c.floor)
				}
			}
			if math.Abs(sum-100) > 1e-9 {
				t.Errorf("reported shares sum to %v", sum)
			}
		})
	}
}

func TestShares(t *testing.T) {
	cases := []struct {
		p     []float64
		floor float64
		want  []float64
	}{
		{[]float64{0.5, 0.3, 0.2}, 0, []float64{50, 30, 20}},
		{[]float64{0.98, 0.02, 0}, 0.05, []float64{5 + 85*0.98, 5 + 85*0.02, 5}},
		{[]float64{0, 0}, 0.05, []float64{50, 50}},
		{[]float64{1, 0, 0}, 0.4, []float64{100.0 / 3, 100.0 / 3, 100.0 / 3}},
		{nil, 0.05, nil},
	}
	for _, c := range cases {
		got := Shares(c.p, c.floor)
		if len(got) != len(c.want) {
			t.Fatalf("Shares(%v, %v) = %v, want %v", c.p, c.floor, got, c.want)
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-9 {
				t.Errorf("Shares(%v, %v) = %v, want %v", c.p, c.floor, got, c.want)
			}
		}
	}
}
