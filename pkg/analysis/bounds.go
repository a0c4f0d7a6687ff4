package analysis

import (
	"fmt"
	"math"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// judgeBounded judges output_mean and the label metrics (accuracy, mae,
// rmse, log_loss) from the per-answer moments behind them: a part fails
// only when a BehaviourConfidence bound of the value (min, max) or of the
// ratio to the previous version (min_ratio, max_ratio) is past its
// threshold, so that a small window does not roll back a healthy version.
// A ratio needs a baseline above 0. The reasons read like `mae 0.31 > max
// 0.2 (99.9% lower bound 0.283, 812 labelled answers)` and `output_mean
// ratio 1.41 > max_ratio 1.25 (99.9% lower bound 1.35, 0.62 vs 0.44, 812
// vs 7,304 answers)`.
func judgeBounded(c *spec.Check, m Measurement) (Verdict, string) {
	var fails, passes []string
	judged := false
	add := func(fail bool, reason string) {
		judged = true
		if fail {
			fails = append(fails, reason)
		} else {
			passes = append(passes, reason)
		}
	}
	if c.Max != nil {
		add(judgeValueBound(c, m, *c.Max, false))
	}
	if c.Min != nil {
		add(judgeValueBound(c, m, *c.Min, true))
	}
	for _, r := range ratioBoundsOf(c) {
		ok, fail, reason := judgeRatioBound(c, m, r.bound, r.below)
		if ok {
			add(fail, reason)
		} else {
			passes = append(passes, reason)
		}
	}
	switch {
	case len(fails) > 0:
		return Fail, strings.Join(fails, "; ")
	case !judged && len(passes) == 0:
		return NoData, fmt.Sprintf("%s: nothing to judge (no min, max, max_ratio or min_ratio)", c.Metric)
	case !judged:
		return NoData, strings.Join(passes, "; ")
	}
	return Pass, strings.Join(passes, "; ")
}

// squared says whether a metric is the square root of its moments' mean
// (rmse): bounds are found on the mean squared error, then rooted.
func squared(metric string) bool { return metric == "rmse" }

// momentsVar is the variance of one answer's quantity: an accuracy's
// proportion smoothed by one success and one failure, so that 20 correct
// answers out of 20 are not taken as certain; else the sample variance
// (+Inf from a single answer, which says nothing of the spread).
func momentsVar(metric string, mo behaviour.Moments) float64 {
	if metric == "accuracy" {
		p := (mo.Sum + 1) / (float64(mo.N) + 2)
		return p * (1 - p)
	}
	if mo.N < 2 {
		return math.Inf(1)
	}
	n := float64(mo.N)
	return mo.Var() * n / (n - 1)
}

// valueBounds is the two-sided pair of one-sided BehaviourConfidence
// bounds of a behaviour metric: Wilson's for an accuracy, else the mean
// plus or minus zBehaviour standard errors (on the squared error for
// rmse, then rooted).
func valueBounds(metric string, mo behaviour.Moments) (lo, hi float64) {
	n := float64(mo.N)
	if metric == "accuracy" {
		return wilson(mo.Sum, n, zBehaviour)
	}
	mean := mo.Mean()
	half := zBehaviour * math.Sqrt(momentsVar(metric, mo)/n)
	lo, hi = mean-half, mean+half
	if metric != "output_mean" { // errors and losses are never below 0
		lo = math.Max(0, lo)
	}
	if squared(metric) {
		lo, hi = math.Sqrt(lo), math.Sqrt(hi)
	}
	return lo, hi
}

// judgeValueBound judges min (below) or max against the value's bound.
func judgeValueBound(c *spec.Check, m Measurement, threshold float64, below bool) (fail bool, reason string) {
	lo, hi := valueBounds(c.Metric, m.Moments)
	name, op, okOp, side, bound := "max", ">", "<=", "above", lo
	if below {
		name, op, okOp, side, bound = "min", "<", ">=", "below", hi
	}
	which := "lower"
	if below {
		which = "upper"
	}
	detail := fmt.Sprintf("(%s %s bound %s, %s)", pct(BehaviourConfidence), which, short(bound), oneCount(c, m))
	past := m.Value > threshold
	sure := bound > threshold
	if below {
		past, sure = m.Value < threshold, bound < threshold
	}
	switch {
	case !past:
		return false, fmt.Sprintf("%s %s %s %s %s %s", c.Metric, short(m.Value), okOp, name, num(threshold), detail)
	case sure:
		return true, fmt.Sprintf("%s %s %s %s %s %s", c.Metric, short(m.Value), op, name, num(threshold), detail)
	}
	return false, fmt.Sprintf("%s %s %s %s %s within noise %s", c.Metric, short(m.Value), side, name, num(threshold), detail)
}

// ratioZ is the z statistic of a - rho·b, the one-sided test of the
// ratio of two means a/b against rho, from the variances of one answer
// (va, vb) and the counts (n, nb). Zero spread gives ±Inf (0 at equality).
func ratioZ(a, va, n, b, vb, nb, rho float64) float64 {
	d := a - rho*b
	se := math.Sqrt(va/n + rho*rho*vb/nb)
	if se == 0 || math.IsNaN(se) {
		switch {
		case d > 0:
			return math.Inf(1)
		case d < 0:
			return math.Inf(-1)
		}
		return 0
	}
	return d / se
}

// ratioBounds inverts ratioZ into the one-sided BehaviourConfidence
// bounds of the ratio a/b, b > 0 (Fieller's interval): lo is the smallest
// rho with z(rho) <= zBehaviour (0 when even rho = 0 is and a >= 0), hi
// the largest with z(rho) >= -zBehaviour; both are open (∓Inf) when b is
// not surely above 0. z falls as rho grows where it crosses those levels,
// so both are found by bisection.
func ratioBounds(a, va, n, b, vb, nb float64) (lo, hi float64) {
	if math.IsInf(va, 1) || math.IsInf(vb, 1) { // a side of one answer
		if a < 0 {
			return math.Inf(-1), math.Inf(1)
		}
		return 0, math.Inf(1)
	}
	z := func(rho float64) float64 { return ratioZ(a, va, n, b, vb, nb, rho) }
	solve := func(target float64) float64 {
		l := 0.0
		for i := 0; z(l) <= target && i < 200; i++ {
			l = 2*l - 1
		}
		h := math.Max(l+1, 2*a/b)
		for i := 0; z(h) > target && i < 200; i++ {
			l, h = h, 2*h+1
		}
		for i := 0; i < 200 && h-l > 1e-12*math.Max(1, math.Abs(h)); i++ {
			mid := (l + h) / 2
			if z(mid) > target {
				l = mid
			} else {
				h = mid
			}
		}
		return (l + h) / 2
	}
	baseSure := b/math.Sqrt(vb/nb) > zBehaviour // +Inf when vb is 0
	switch {
	case a >= 0 && z(0) <= zBehaviour:
		lo = 0
	case a < 0 && !baseSure:
		lo = math.Inf(-1)
	default:
		lo = solve(zBehaviour)
	}
	hi = math.Inf(1)
	if baseSure {
		hi = solve(-zBehaviour)
	}
	return lo, hi
}

// judgeRatioBound judges max_ratio (below false) or min_ratio: it fails
// only when the ratio's bound is past it. judged is false without a
// baseline, or with a baseline whose mean is not above 0.
func judgeRatioBound(c *spec.Check, m Measurement, bound float64, below bool) (judged, fail bool, reason string) {
	name, op, okOp, side, which := "max_ratio", ">", "<=", "above", "lower"
	if below {
		name, op, okOp, side, which = "min_ratio", "<", ">=", "below", "upper"
	}
	cur, base := m.Moments, m.BaselineMoments
	a, b := cur.Mean(), base.Mean()
	switch {
	case !m.HasBaseline || base.N == 0:
		return false, false, fmt.Sprintf("%s ratio: no baseline", c.Metric)
	case !(b > 0):
		return false, false, fmt.Sprintf("%s ratio: baseline is %s (a ratio needs a baseline above 0)", c.Metric, short(m.Baseline))
	}
	n, nb := float64(cur.N), float64(base.N)
	va, vb := momentsVar(c.Metric, cur), momentsVar(c.Metric, base)
	lo, hi := ratioBounds(a, va, n, b, vb, nb)
	rho := bound
	if squared(c.Metric) {
		lo, hi, rho = math.Sqrt(lo), math.Sqrt(hi), bound*bound
	}
	z := ratioZ(a, va, n, b, vb, nb, rho)
	ratio := m.Value / m.Baseline
	past, sure, shown := ratio > bound, z > zBehaviour, lo
	if below {
		past, sure, shown = ratio < bound, z < -zBehaviour, hi
	}
	detail := fmt.Sprintf("(%s %s bound %s, %s vs %s, %s)", pct(BehaviourConfidence), which, short(shown), short(m.Value), short(m.Baseline), twoCounts(c, m))
	label := c.Metric + " ratio " + short(ratio)
	switch {
	case !past:
		return true, false, fmt.Sprintf("%s %s %s %s %s", label, okOp, name, num(bound), detail)
	case sure:
		return true, true, fmt.Sprintf("%s %s %s %s %s", label, op, name, num(bound), detail)
	}
	return true, false, fmt.Sprintf("%s %s %s %s within noise %s", label, side, name, num(bound), detail)
}

// oneCount is the new version's count in a reason: `812 labelled answers`,
// `812 labelled answers in the last 6 windows`.
func oneCount(c *spec.Check, m Measurement) string {
	return fmt.Sprintf("%s %s%s", thousands(int64(m.Moments.N)), countUnit(c), pooledNote(m))
}

// twoCounts is both versions' counts in a ratio's reason, naming a
// baseline kept from before the switch as judgeDrift does.
func twoCounts(c *spec.Check, m Measurement) string {
	n, nb := thousands(int64(m.Moments.N)), thousands(int64(m.BaselineMoments.N))
	if m.Reference {
		return fmt.Sprintf("%s %s%s vs %s kept from the previous version's last %d windows before the switch",
			n, countUnit(c), pooledNote(m), nb, m.ReferenceWindows)
	}
	return fmt.Sprintf("%s vs %s %s%s", n, nb, countUnit(c), pooledNote(m))
}

// pooledNote says over how many windows a label metric pooled its labels.
func pooledNote(m Measurement) string {
	if m.Windows <= 1 {
		return ""
	}
	return fmt.Sprintf(" in the last %d windows", m.Windows)
}

// short writes a measured figure with 3 significant digits: 0.889, 1.32,
// 0.25. Thresholds are written as given (num).
func short(v float64) string { return fmt.Sprintf("%.3g", v) }
