package analysis_test

import (
	"fmt"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

func ExampleJudge() {
	max, ratio := 0.02, 1.2
	errors := &spec.Check{Name: "errors", Metric: "error_rate", Max: &max, MinRequests: 50}
	latency := &spec.Check{Name: "latency", Metric: "latency_p99", MaxRatio: &ratio, MinRequests: 20}

	for _, m := range []analysis.Measurement{
		{Value: 0.052, Requests: 500},
		{Value: 0.024, Requests: 500},
		{Value: 0.5, Requests: 12},
	} {
		fmt.Println(analysis.Judge(errors, m))
	}
	fmt.Println(analysis.Judge(latency, analysis.Measurement{Value: 0.27, Baseline: 0.2, HasBaseline: true, Requests: 400}))
	// Output:
	// fail error_rate 0.052 > max 0.02 (99% lower bound 0.03333 over 500 requests)
	// pass error_rate 0.024 above max 0.02 within noise (99% lower bound 0.01246 over 500 requests)
	// no_data error_rate: 12 requests < min_requests 50
	// fail latency_p99 ratio 1.35 > max_ratio 1.2 (0.270 vs 0.200)
}

func ExampleSequentialStep() {
	// The engine keeps the always-valid p-value between looks.
	var p float64
	for _, look := range []struct{ n, convA, convB int64 }{
		{2000, 100, 118},
		{4000, 200, 262},
		{6000, 300, 390},
	} {
		a := analysis.Arm{Name: "v7", N: look.n, Sum: float64(look.convA), SumSq: float64(look.convA)}
		b := analysis.Arm{Name: "v8", N: look.n, Sum: float64(look.convB), SumSq: float64(look.convB)}
		r := analysis.SequentialStep(p, a, b, 0.05, 1000)
		p = r.PValue
		fmt.Printf("n=%d p=%.3f decided=%v winner=%q lift=%.2f\n", look.n, r.PValue, r.Decided, r.Winner, r.Lift)
	}
	// Output:
	// n=2000 p=1.000 decided=false winner="" lift=0.18
	// n=4000 p=0.062 decided=false winner="" lift=0.31
	// n=6000 p=0.012 decided=true winner="v8" lift=0.30
}

func ExampleBanditWeights() {
	arms := []analysis.Arm{
		{Name: "v7", N: 2000, Sum: 100, SumSq: 100},
		{Name: "v8", N: 2000, Sum: 160, SumSq: 160},
		{Name: "v9", N: 2000, Sum: 110, SumSq: 110},
	}
	p := analysis.ProbBest(arms, 10000, 1)
	fmt.Printf("P(best) %.2f\n", p)
	fmt.Printf("weights %.1f\n", analysis.BanditWeights(p, 0.05))
	// Output:
	// P(best) [0.00 1.00 0.00]
	// weights [5.0 89.9 5.1]
}
