package analysis

import "math"

// z95 is the standard normal quantile for a two-sided 95% interval.
const z95 = 1.959963984540054

// wilson is the Wilson score interval of k successes in n trials at the
// normal quantile z, clamped to [0, 1].
func wilson(k, n, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	p := k / n
	z2 := z * z
	den := 1 + z2/n
	center := (p + z2/(2*n)) / den
	half := z / den * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	lo, hi = center-half, center+half
	if lo < 0 || k <= 0 {
		lo = 0
	}
	if hi > 1 || k >= n {
		hi = 1
	}
	return lo, hi
}

// normalSF is the upper tail P(Z > z) of the standard normal.
func normalSF(z float64) float64 {
	return 0.5 * math.Erfc(z/math.Sqrt2)
}
