package behaviour

import "math"

// gammaP is the regularized lower incomplete gamma function P(a, x)
// (Numerical Recipes §6.2: the series below a+1, the continued fraction
// above).
func gammaP(a, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case math.IsInf(x, 1):
		return 1
	}
	lg, _ := math.Lgamma(a)
	if x < a+1 {
		sum, del := 1/a, 1/a
		for ap := a; ; {
			ap++
			del *= x / ap
			sum += del
			if math.Abs(del) < math.Abs(sum)*1e-15 {
				break
			}
		}
		return sum * math.Exp(-x+a*math.Log(x)-lg)
	}
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 10000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return 1 - math.Exp(-x+a*math.Log(x)-lg)*h
}

// chi2CDF is P(X <= x) for X ~ χ²(df) noncentral with parameter lambda:
// a Poisson(lambda/2) mixture of central χ²(df+2j), summed outwards from
// the Poisson mode until the weights are negligible.
func chi2CDF(x, df, lambda float64) float64 {
	if x <= 0 {
		return 0
	}
	if lambda <= 0 {
		return gammaP(df/2, x/2)
	}
	h := lambda / 2
	weight := func(j float64) float64 {
		lg, _ := math.Lgamma(j + 1)
		return math.Exp(-h + j*math.Log(h) - lg)
	}
	mode := math.Floor(h)
	var sum, wsum float64
	for j := mode; ; j++ {
		w := weight(j)
		sum += w * gammaP(df/2+j, x/2)
		wsum += w
		if w < 1e-14 && j > mode {
			break
		}
	}
	for j := mode - 1; j >= 0; j-- {
		w := weight(j)
		sum += w * gammaP(df/2+j, x/2)
		wsum += w
		if w < 1e-14 {
			break
		}
	}
	return math.Min(1, sum)
}

// chi2Quantile is the conf quantile of χ²(df, lambda), by bisection.
func chi2Quantile(conf, df, lambda float64) float64 {
	lo, hi := 0.0, df+lambda+10*math.Sqrt(2*(df+2*lambda))+10
	for chi2CDF(hi, df, lambda) < conf {
		hi *= 2
	}
	for i := 0; i < 100 && hi-lo > 1e-9*hi; i++ {
		mid := (lo + hi) / 2
		if chi2CDF(mid, df, lambda) < conf {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// lambdaLower is the one-sided lower confidence bound (at conf) of the
// noncentrality of a χ²(df, λ) statistic observed at x: the smallest λ
// under which x is at most the conf quantile. 0 when x is not above the
// central quantile.
func lambdaLower(x, df, conf float64) float64 {
	if chi2CDF(x, df, 0) <= conf {
		return 0
	}
	lo, hi := 0.0, x
	for i := 0; i < 100 && hi-lo > 1e-9*math.Max(hi, 1); i++ {
		mid := (lo + hi) / 2
		if chi2CDF(x, df, mid) > conf {
			lo = mid // x still above the conf quantile: λ can be larger
		} else {
			hi = mid
		}
	}
	return lo
}
