package analysis

import (
	"fmt"
	"math"
	"slices"
)

// MannWhitney is the one-sided Mann–Whitney U test of "the canary's values
// are shifted higher than the baseline's". u counts the pairs where the
// canary's value is the larger (ties count one half); z is its normal
// approximation with tie and continuity corrections; p is the one-sided
// p-value P(Z >= z). Either sample empty: u = 0, z = 0, p = 1.
func MannWhitney(canary, baseline []float64) (u, z, p float64) {
	n1, n2 := len(canary), len(baseline)
	if n1 == 0 || n2 == 0 {
		return 0, 0, 1
	}
	type obs struct {
		v      float64
		canary bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range canary {
		all = append(all, obs{v, true})
	}
	for _, v := range baseline {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(a, b obs) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	n := float64(n1 + n2)
	var r1, ties float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // average of ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].canary {
				r1 += rank
			}
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	f1, f2 := float64(n1), float64(n2)
	u = r1 - f1*(f1+1)/2
	mean := f1 * f2 / 2
	variance := f1 * f2 / 12 * ((n + 1) - ties/(n*(n-1)))
	if !(variance > 0) {
		return u, 0, 1
	}
	z = (u - mean - 0.5) / math.Sqrt(variance)
	return u, z, normalSF(z)
}

// LatencyComparison is a Kayenta-style comparison of latency samples.
type LatencyComparison struct {
	U, Z, P float64
	// Superiority is U/(n1·n2): the probability that a canary request is
	// slower than a baseline request (0.5: no shift). A rank effect size.
	Superiority float64
	// Shift is the Hodges–Lehmann estimate of how much slower the canary
	// is (the median of pairwise differences), in the samples' unit;
	// RelativeShift divides it by the baseline's median.
	Shift, RelativeShift float64
	Canary, Baseline     int
}

// CompareLatency compares the canary's latencies with the baseline's.
func CompareLatency(canary, baseline []float64) LatencyComparison {
	c := LatencyComparison{Canary: len(canary), Baseline: len(baseline)}
	c.U, c.Z, c.P = MannWhitney(canary, baseline)
	if len(canary) == 0 || len(baseline) == 0 {
		return c
	}
	c.Superiority = c.U / (float64(len(canary)) * float64(len(baseline)))
	c.Shift = hodgesLehmann(canary, baseline)
	if mb := median(slices.Clone(baseline)); mb > 0 {
		c.RelativeShift = c.Shift / mb
	}
	return c
}

// JudgeLatencyShift fails when the canary's latencies are significantly
// higher than the baseline's (one-sided Mann–Whitney p < alpha) by more
// than tolerance of the baseline's median (Hodges–Lehmann shift), as
// Kayenta's Mann–Whitney classifier does with its effect size tolerance.
// Either sample under minSamples: NoData.
func JudgeLatencyShift(canary, baseline []float64, alpha, tolerance float64, minSamples int) (Verdict, string) {
	if len(canary) < minSamples || len(baseline) < minSamples {
		return NoData, fmt.Sprintf("latency samples %d vs %d < %d", len(canary), len(baseline), minSamples)
	}
	c := CompareLatency(canary, baseline)
	detail := fmt.Sprintf("latency shift %+.1f%% (p=%.3g, P(slower)=%.2f, %d vs %d samples)",
		100*c.RelativeShift, c.P, c.Superiority, c.Canary, c.Baseline)
	if c.P < alpha && c.RelativeShift > tolerance {
		return Fail, fmt.Sprintf("%s > tolerance %s%%", detail, num(100*tolerance))
	}
	return Pass, detail
}

// hodgesLehmann is the median of all differences x_i - y_j, found
// without listing them: bisection on the shift d, counting the pairs with
// x_i - y_j <= d in one merge-like pass over the sorted samples.
func hodgesLehmann(xs, ys []float64) float64 {
	x, y := slices.Clone(xs), slices.Clone(ys)
	slices.Sort(x)
	slices.Sort(y)
	total := int64(len(x)) * int64(len(y))
	k := (total + 1) / 2
	if total%2 == 1 {
		return kthDiff(x, y, k)
	}
	return (kthDiff(x, y, k) + kthDiff(x, y, k+1)) / 2
}

// kthDiff is the k-th smallest of the differences x_i - y_j (x and y
// sorted, 1 <= k <= len(x)·len(y)).
func kthDiff(x, y []float64, k int64) float64 {
	countLE := func(d float64) int64 {
		var n int64
		j := 0
		for _, xi := range x { // y_j >= xi - d  <=>  xi - y_j <= d
			for j < len(y) && y[j] < xi-d {
				j++
			}
			n += int64(len(y) - j)
		}
		return n
	}
	lo, hi := x[0]-y[len(y)-1], x[len(x)-1]-y[0]
	if countLE(lo) >= k {
		return lo
	}
	for i := 0; i < 200; i++ { // countLE(lo) < k <= countLE(hi)
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			break
		}
		if countLE(mid) >= k {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// median sorts xs in place and returns its median (0 when empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}
