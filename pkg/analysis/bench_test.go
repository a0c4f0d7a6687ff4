package analysis

import "testing"

// BenchmarkProbBest is the engine's cost per bandit interval: 10,000
// draws over three arms.
func BenchmarkProbBest(b *testing.B) {
	arms := []Arm{{Name: "a", N: 5000, Sum: 250, SumSq: 250}, {Name: "b", N: 5000, Sum: 300, SumSq: 300}, {Name: "c", N: 5000, Sum: 400, SumSq: 400}}
	for i := 0; b.Loop(); i++ {
		ProbBest(arms, DefaultDraws, uint64(i))
	}
}

func BenchmarkSequentialStep(b *testing.B) {
	a, c := Arm{Name: "a", N: 5000, Sum: 250, SumSq: 250}, Arm{Name: "b", N: 5000, Sum: 300, SumSq: 300}
	for b.Loop() {
		SequentialStep(0.5, a, c, 0.05, 1000)
	}
}

func BenchmarkCompareLatency(b *testing.B) {
	r := NewRand(1)
	x, y := make([]float64, 1000), make([]float64, 1000)
	for i := range x {
		x[i], y[i] = r.ExpFloat64(), r.ExpFloat64()
	}
	for b.Loop() {
		CompareLatency(x, y)
	}
}
