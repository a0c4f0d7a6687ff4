package analysis

import (
	"math"
	"strings"
	"testing"
)

func TestMannWhitney(t *testing.T) {
	tests := []struct {
		name             string
		canary, baseline []float64
		u, z, p          float64
	}{
		{"canary higher", []float64{4, 5, 6}, []float64{1, 2, 3}, 9, 1.7457, 0.04043},
		{"canary lower", []float64{1, 2, 3}, []float64{4, 5, 6}, 0, -2.1822, 0.98545},
		{"ties", []float64{1, 2, 2, 3}, []float64{2, 3, 4}, 2.5, -1.4819, 0.93082},
		{"empty", nil, []float64{1}, 0, 0, 1},
		{"all tied", []float64{1, 1}, []float64{1, 1}, 2, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, z, p := MannWhitney(tt.canary, tt.baseline)
			if u != tt.u || math.Abs(z-tt.z) > 1e-4 || math.Abs(p-tt.p) > 1e-4 {
				t.Errorf("MannWhitney = %v %v %v, want %v %v %v", u, z, p, tt.u, tt.z, tt.p)
			}
		})
	}
}

func TestJudgeLatencyShift(t *testing.T) {
	r := NewRand(11)
	lognormal := func(n int, scale float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = scale * math.Exp(-2.3+0.5*r.NormFloat64())
		}
		return out
	}
	base := lognormal(400, 1)
	same := lognormal(400, 1)
	slower := lognormal(400, 1.3)
	if v, reason := JudgeLatencyShift(slower, base, 0.01, 0.1, 50); v != Fail || !strings.Contains(reason, "> tolerance 10%") {
		t.Errorf("30%% slower: %v %s", v, reason)
	}
	if v, reason := JudgeLatencyShift(same, base, 0.01, 0.1, 50); v != Pass {
		t.Errorf("same distribution: %v %s", v, reason)
	}
	if v, _ := JudgeLatencyShift(slower[:10], base, 0.01, 0.1, 50); v != NoData {
		t.Errorf("few samples: %v", v)
	}
	c := CompareLatency(slower, base)
	if c.RelativeShift < 0.15 || c.RelativeShift > 0.45 || c.Superiority < 0.6 {
		t.Errorf("effect sizes of a 30%% slowdown: %+v", c)
	}
	// Hodges–Lehmann against the definition, on small samples.
	for _, tc := range []struct{ x, y []float64 }{
		{[]float64{1, 2, 3}, []float64{0, 1}},
		{[]float64{5, 1, 4, 4}, []float64{2, 7, 1}},
		{slower[:37], base[:23]},
	} {
		var diffs []float64
		for _, x := range tc.x {
			for _, y := range tc.y {
				diffs = append(diffs, x-y)
			}
		}
		if got, want := hodgesLehmann(tc.x, tc.y), median(diffs); math.Abs(got-want) > 1e-12 {
			t.Errorf("hodgesLehmann(%v, %v) = %v, want %v", tc.x, tc.y, got, want)
		}
	}
	// Large samples: no pairwise listing.
	big := CompareLatency(lognormal(5000, 1.3), lognormal(5000, 1))
	if big.RelativeShift < 0.15 || big.P > 1e-6 {
		t.Errorf("large samples: %+v", big)
	}
}
