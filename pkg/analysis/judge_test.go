package analysis

import (
	"math"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

func f(v float64) *float64 { return &v }

func TestJudge(t *testing.T) {
	errMax := &spec.Check{Name: "errors", Metric: "error_rate", Source: "router", Max: f(0.01), MinRequests: 50}
	latRatio := &spec.Check{Name: "latency", Metric: "latency_p99", Source: "router", MaxRatio: f(1.2), MinRequests: 20}
	latBoth := &spec.Check{Name: "latency", Metric: "latency_p99", Source: "router", Max: f(0.5), MaxRatio: f(1.2), MinRequests: 20}
	errRatio := &spec.Check{Name: "errors", Metric: "error_rate", Source: "router", MaxRatio: f(2), MinRequests: 50}
	business := &spec.Check{Name: "business", Source: "prom", Query: "x", Min: f(0.5)}
	tests := []struct {
		name   string
		check  *spec.Check
		m      Measurement
		want   Verdict
		reason string
	}{
		{"few requests", errMax, Measurement{Value: 0.5, Requests: 12}, NoData,
			"error_rate: 12 requests < min_requests 50"},
		{"error rate clearly above", errMax, Measurement{Value: 0.052, Requests: 1000}, Fail,
			"error_rate 0.052 > max 0.01 (99% lower bound 0.03794 over 1000 requests)"},
		{"error rate above within noise", errMax, Measurement{Value: 0.02, Requests: 100}, Pass,
			"error_rate 0.02 above max 0.01 within noise (99% lower bound 0.004474 over 100 requests)"},
		{"error rate below", errMax, Measurement{Value: 0.004, Requests: 1000}, Pass,
			"error_rate 0.004 <= max 0.01"},
		{"error rate unknown count: plain threshold", errMax, Measurement{Value: 0.02, Requests: -1}, Fail,
			"error_rate 0.02 > max 0.01"},
		{"no requests, min_requests 0", &spec.Check{Name: "lat", Metric: "latency_p99", Max: f(0.5)}, Measurement{Value: 0, Requests: 0}, NoData,
			"latency_p99: no requests in the window"},
		{"nan", errMax, Measurement{Value: math.NaN(), Requests: -1}, NoData, "error_rate: no value"},
		{"ratio above", latRatio, Measurement{Value: 0.27, Baseline: 0.2, HasBaseline: true, Requests: 100}, Fail,
			"latency_p99 ratio 1.35 > max_ratio 1.2 (0.270 vs 0.200)"},
		{"ratio below", latRatio, Measurement{Value: 0.21, Baseline: 0.2, HasBaseline: true, Requests: 100}, Pass,
			"latency_p99 ratio 1.05 <= max_ratio 1.2 (0.210 vs 0.200)"},
		{"ratio without baseline", latRatio, Measurement{Value: 0.27, Requests: 100}, NoData,
			"latency_p99 ratio: no baseline"},
		{"ratio with zero baseline", latRatio, Measurement{Value: 0.27, Baseline: 0, HasBaseline: true, Requests: 100}, NoData,
			"latency_p99 ratio: baseline is 0"},
		{"max judged, ratio without baseline", latBoth, Measurement{Value: 0.3, Requests: 100}, Pass,
			"latency_p99 0.3 <= max 0.5; latency_p99 ratio: no baseline"},
		{"both fail", latBoth, Measurement{Value: 0.6, Baseline: 0.2, HasBaseline: true, Requests: 100}, Fail,
			"latency_p99 0.6 > max 0.5; latency_p99 ratio 3.00 > max_ratio 1.2 (0.600 vs 0.200)"},
		{"error ratio significant", errRatio, Measurement{Value: 0.05, Requests: 500, Baseline: 0.01, HasBaseline: true, BaselineRequests: 2000}, Fail,
			"error_rate ratio 5.00 > max_ratio 2 (0.050 vs 0.010, z 2.80 over 500 and 2000 requests)"},
		{"error ratio within noise", errRatio, Measurement{Value: 0.026, Requests: 500, Baseline: 0.01, HasBaseline: true, BaselineRequests: 2000}, Pass,
			"error_rate ratio 2.60 above max_ratio 2 within noise (0.026 vs 0.010, z 0.71 over 500 and 2000 requests)"},
		{"error ratio over a zero baseline", errRatio, Measurement{Value: 0.04, Requests: 500, Baseline: 0, HasBaseline: true, BaselineRequests: 2000}, Fail,
			"error_rate ratio +Inf > max_ratio 2 (0.040 vs 0.000, z 4.56 over 500 and 2000 requests)"},
		{"error ratio, counts unknown: plain", errRatio, Measurement{Value: 0.026, Requests: -1, Baseline: 0.01, HasBaseline: true}, Fail,
			"error_rate ratio 2.60 > max_ratio 2 (0.026 vs 0.010)"},
		{"error ratio, both zero", errRatio, Measurement{Value: 0, Requests: 500, Baseline: 0, HasBaseline: true, BaselineRequests: 2000}, Pass,
			"error_rate ratio 1.00 <= max_ratio 2 (0.000 vs 0.000)"},
		{"prometheus min fails", business, Measurement{Value: 0.4, Requests: -1}, Fail, "business 0.4 < min 0.5"},
		{"prometheus min passes", business, Measurement{Value: 0.5, Requests: -1}, Pass, "business 0.5 >= min 0.5"},
		{"nothing to judge", &spec.Check{Name: "x", Metric: "request_rate"}, Measurement{Value: 1, Requests: -1}, NoData,
			"request_rate: nothing to judge (no min, max, max_ratio or min_ratio)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := Judge(tt.check, tt.m)
			if got != tt.want || reason != tt.reason {
				t.Errorf("Judge = %v %q, want %v %q", got, reason, tt.want, tt.reason)
			}
		})
	}
}

func TestJudgeShadow(t *testing.T) {
	tests := []struct {
		name                    string
		pairs, agree, min       int64
		minAgreement            float64
		decided, passed         bool
		agreement, lower, upper float64
	}{
		{"no pairs", 0, 0, 500, 0.98, false, false, 0, 0, 1},
		{"too few", 100, 100, 500, 0.98, false, false, 1, 0.963, 1},
		{"passes", 1200, 1190, 500, 0.98, true, true, 0.99167, 0.98476, 0.99548},
		{"fails", 1000, 970, 500, 0.98, true, false, 0.97, 0.95731, 0.97909},
		{"at the threshold passes", 500, 490, 500, 0.98, true, true, 0.98, 0.96366, 0.98909},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := JudgeShadow(tt.pairs, tt.agree, tt.minAgreement, tt.min)
			if v.Decided != tt.decided || v.Passed != tt.passed || v.Samples != tt.pairs {
				t.Errorf("got %+v", v)
			}
			for _, c := range []struct{ got, want float64 }{{v.Agreement, tt.agreement}, {v.Lower, tt.lower}, {v.Upper, tt.upper}} {
				if math.Abs(c.got-c.want) > 5e-4 {
					t.Errorf("got %+v, want agreement %v [%v, %v]", v, tt.agreement, tt.lower, tt.upper)
				}
			}
		})
	}
}

func TestBanditWeights(t *testing.T) {
	tests := []struct {
		name  string
		p     []float64
		floor float64
		want  []float64
	}{
		{"proportional without a floor", []float64{0.5, 0.3, 0.2}, 0, []float64{50, 30, 20}},
		{"the floor, then the rest by P(best)", []float64{0.5, 0.3, 0.2}, 0.05, []float64{47.5, 30.5, 22}},
		{"a loser keeps the floor", []float64{0.98, 0.02, 0}, 0.05, []float64{88.3, 6.7, 5}},
		{"all zero", []float64{0, 0}, 0.05, []float64{50, 50}},
		{"floor too large", []float64{1, 0, 0}, 0.4, []float64{100.0 / 3, 100.0 / 3, 100.0 / 3}},
		{"empty", nil, 0.05, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := BanditWeights(tt.p, tt.floor)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			sum := 0.0
			for i := range got {
				sum += got[i]
				if math.Abs(got[i]-tt.want[i]) > 1e-9 {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			}
			if len(got) > 0 && math.Abs(sum-100) > 1e-9 {
				t.Errorf("sum %v", sum)
			}
		})
	}
}

func TestProbBest(t *testing.T) {
	arms := []Arm{
		{Name: "a", N: 1000, Sum: 50, SumSq: 50},
		{Name: "b", N: 1000, Sum: 80, SumSq: 80},
	}
	p := ProbBest(arms, 20000, 1)
	if p[1] < 0.99 || math.Abs(p[0]+p[1]-1) > 1e-12 {
		t.Errorf("ProbBest = %v, want b best with >= 0.99", p)
	}
	again := ProbBest(arms, 20000, 1)
	if again[0] != p[0] {
		t.Errorf("same seed gave %v then %v", p, again)
	}
	even := ProbBest([]Arm{{Name: "a"}, {Name: "b"}, {Name: "c"}}, 30000, 7)
	for _, v := range even {
		if math.Abs(v-1.0/3) > 0.02 {
			t.Errorf("no data: ProbBest = %v, want about 1/3 each", even)
		}
	}
	// Fractional rewards: posterior Beta(1+Sum, 1+N-Sum).
	frac := ProbBest([]Arm{{Name: "a", N: 500, Sum: 200, SumSq: 100}, {Name: "b", N: 500, Sum: 300, SumSq: 200}}, 5000, 3)
	if frac[1] < 0.999 {
		t.Errorf("fractional: %v", frac)
	}
}

func TestSequentialTest(t *testing.T) {
	a := Arm{Name: "v7", N: 20000, Sum: 1000, SumSq: 1000}
	b := Arm{Name: "v8", N: 20000, Sum: 1250, SumSq: 1250}
	r := SequentialTest(a, b, 0.05, 1000)
	if !r.Decided || r.Winner != "v8" || r.PValue > 0.05 || math.Abs(r.Lift-0.25) > 1e-12 {
		t.Errorf("clear lift: %+v", r)
	}
	if r := SequentialTest(a, b, 0.05, 30000); r.Decided {
		t.Errorf("decided before min_samples: %+v", r)
	}
	same := SequentialTest(a, Arm{Name: "v8", N: 20000, Sum: 1010, SumSq: 1010}, 0.05, 1000)
	if same.Decided || same.PValue < 0.5 {
		t.Errorf("no difference: %+v", same)
	}
	// Running minimum: a later look with weaker evidence keeps the p-value.
	s := Sequential{Alpha: 0.05, MinSamples: 1000}
	first := s.Look(a, b)
	second := s.Look(a, Arm{Name: "v8", N: 20000, Sum: 1010, SumSq: 1010})
	if second.PValue != first.PValue || !second.Decided || s.Looks != 2 {
		t.Errorf("running p: first %+v second %+v", first, second)
	}
	// Too few observations: no evidence yet, however lopsided.
	if r := SequentialTest(Arm{Name: "a", N: 20, Sum: 10, SumSq: 5.0001}, Arm{Name: "b", N: 20, Sum: 12, SumSq: 7.2}, 0.05, 0); r.PValue != 1 {
		t.Errorf("20 observations: %+v", r)
	}
	// Means (non-binary rewards) use the pooled sample variance.
	ma := Arm{Name: "a", N: 5000, Sum: 2500, SumSq: 1450}
	mb := Arm{Name: "b", N: 5000, Sum: 2750, SumSq: 1712.5}
	if r := SequentialTest(ma, mb, 0.05, 100); r.Winner != "b" {
		t.Errorf("means: %+v", r)
	}
}
