package analysis

// Simulations of the judges' statistical quality, with fixed seeds: the
// figures in bench/RESULTS.md ("analysis") come from
//
//	go test -run TestSim -v ./pkg/analysis/
//
// Under -race or -short the counts shrink (see full) and only bounds that
// hold at any count are asserted; the recorded figures are the full run's.

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// full reports whether the simulations run at their recorded size.
func full() bool { return !raceEnabled && !testing.Short() }

// scaled is n in a full run, n/div otherwise.
func scaled(n, div int) int {
	if full() {
		return n
	}
	return max(n/div, 1)
}

// binomial draws Bin(n, p) by inversion of the CDF: O(n·p) steps, which
// the simulations keep in the tens.
func binomial(r *rand.Rand, n int, p float64) int64 {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return int64(n)
	}
	ratio := p / (1 - p)
	pmf := math.Pow(1-p, float64(n))
	cdf := pmf
	u := r.Float64()
	k := 0
	for u > cdf && k < n {
		pmf *= float64(n-k) / float64(k+1) * ratio
		k++
		cdf += pmf
	}
	return int64(k)
}

// rate is k/n with its 95% Wilson interval.
type rate struct {
	k, n   int
	p      float64
	lo, hi float64
}

func newRate(k, n int) rate {
	lo, hi := wilson(float64(k), float64(n), z95)
	return rate{k: k, n: n, p: float64(k) / float64(n), lo: lo, hi: hi}
}

// abSim is one harness for A/A and power runs: arms get batch
// observations each per look (an interval), the mSPRT (running p-value,
// as the engine keeps it) and a naive fixed-horizon z-test are checked at
// every look once both arms have minSamples.
type abSim struct {
	pa, pb     float64
	batch      int
	looks      int
	alpha      float64
	minSamples int64
	// halves makes rewards fractional: 0.5 with probability 0.3, 1 with
	// probability pa (pb), else 0; the test then runs on means with the
	// pooled sample variance instead of proportions.
	halves bool
}

// draw is one arm's batch: the sum of rewards and of their squares.
func (s abSim) draw(r *rand.Rand, p float64) (sum, sumSq float64) {
	if !s.halves {
		k := float64(binomial(r, s.batch, p))
		return k, k
	}
	half := binomial(r, s.batch, 0.3)
	ones := binomial(r, s.batch-int(half), p/0.7)
	return 0.5*float64(half) + float64(ones), 0.25*float64(half) + float64(ones)
}

type abOutcome struct {
	msprtAt     int64 // samples per arm at the mSPRT's decision, 0: none
	msprtWinner string
	naiveAt     int64
	naiveWinner string
}

func (s abSim) run(r *rand.Rand) abOutcome {
	a, b := Arm{Name: "a"}, Arm{Name: "b"}
	seq := Sequential{Alpha: s.alpha, MinSamples: s.minSamples}
	var o abOutcome
	for look := 0; look < s.looks && (o.msprtAt == 0 || o.naiveAt == 0); look++ {
		sa, qa := s.draw(r, s.pa)
		sb, qb := s.draw(r, s.pb)
		a.N += int64(s.batch)
		b.N += int64(s.batch)
		a.Sum += sa
		a.SumSq += qa
		b.Sum += sb
		b.SumSq += qb
		res := seq.Look(a, b)
		if o.msprtAt == 0 && res.Decided {
			o.msprtAt, o.msprtWinner = a.N, res.Winner
		}
		if o.naiveAt == 0 && a.N >= s.minSamples {
			if z, p := ZTest(a, b); p < s.alpha {
				o.naiveAt = a.N
				o.naiveWinner = "a"
				if z > 0 {
					o.naiveWinner = "b"
				}
			}
		}
	}
	return o
}

// TestSimABAA: A/A tests monitored at every interval. The mSPRT's false
// winner rate stays under alpha, for proportions and for means; a naive
// z-test at every look does not.
func TestSimABAA(t *testing.T) {
	for _, tc := range []struct {
		name string
		runs int
		s    abSim
		seed uint64
	}{
		{"proportions, p=0.05 both arms", scaled(2000, 10), abSim{pa: 0.05, pb: 0.05, batch: 250, looks: 200, alpha: 0.05, minSamples: 1000}, 2017},
		{"proportions, p=0.05 both arms, small batches", scaled(1000, 10), abSim{pa: 0.05, pb: 0.05, batch: 25, looks: 400, alpha: 0.05, minSamples: 100}, 2019},
		{"means, rewards in {0, 0.5, 1} with mean 0.25 both arms", scaled(1000, 10), abSim{pa: 0.1, pb: 0.1, batch: 250, looks: 200, alpha: 0.05, minSamples: 1000, halves: true}, 2018},
	} {
		s := tc.s
		r := NewRand(tc.seed)
		msprt, naive := 0, 0
		for i := 0; i < tc.runs; i++ {
			o := s.run(r)
			if o.msprtAt > 0 {
				msprt++
			}
			if o.naiveAt > 0 {
				naive++
			}
		}
		m, n := newRate(msprt, tc.runs), newRate(naive, tc.runs)
		t.Logf("A/A, %s, %d per arm per look, %d looks (%d per arm), min_samples %d, alpha %.2f, %d experiments",
			tc.name, s.batch, s.looks, s.batch*s.looks, s.minSamples, s.alpha, tc.runs)
		t.Logf("  mSPRT false winners: %d/%d = %.4f (95%% CI %.4f-%.4f)", m.k, m.n, m.p, m.lo, m.hi)
		t.Logf("  naive z-test every look: %d/%d = %.4f (95%% CI %.4f-%.4f), %.1fx alpha", n.k, n.n, n.p, n.lo, n.hi, n.p/s.alpha)
		if full() && m.p > s.alpha {
			t.Errorf("%s: mSPRT false winner rate %.4f > alpha %.2f", tc.name, m.p, s.alpha)
		}
		if n.p < 2*m.p || (full() && n.p < 3*s.alpha) {
			t.Errorf("%s: naive z-test false winners %.4f: expected several times alpha", tc.name, n.p)
		}
	}
}

// TestSimABPower: a 5% -> 6% conversion lift is found, in the right
// direction; the median samples per arm at the decision are reported.
func TestSimABPower(t *testing.T) {
	runs := scaled(1000, 10)
	s := abSim{pa: 0.05, pb: 0.06, batch: 250, looks: 400, alpha: 0.05, minSamples: 1000}
	r := NewRand(42)
	var at []float64
	right, wrong := 0, 0
	for i := 0; i < runs; i++ {
		o := s.run(r)
		switch {
		case o.msprtAt == 0:
			at = append(at, math.Inf(1))
		case o.msprtWinner == "b":
			right++
			at = append(at, float64(o.msprtAt))
		default:
			wrong++
			at = append(at, float64(o.msprtAt))
		}
	}
	slices.Sort(at)
	med := at[len(at)/2]
	p90 := at[len(at)*9/10]
	// The fixed-horizon test with 80% power at the same alpha, for scale.
	pbar := (s.pa + s.pb) / 2
	fixed := math.Pow(1.959964+0.841621, 2) * 2 * pbar * (1 - pbar) / math.Pow(s.pb-s.pa, 2)
	pw := newRate(right, runs)
	t.Logf("power, 5%% -> 6%%, %d per arm per look, up to %d per arm, %d experiments", s.batch, s.batch*s.looks, runs)
	t.Logf("  found (right winner): %.4f (95%% CI %.4f-%.4f); wrong winner: %d; undecided: %d", pw.p, pw.lo, pw.hi, wrong, runs-right-wrong)
	t.Logf("  samples per arm at the decision: median %.0f, 90th percentile %.0f (fixed-horizon test, 80%% power: %.0f)", med, p90, fixed)
	if full() && (pw.p < 0.9 || math.IsInf(med, 1)) {
		t.Errorf("power %.3f (median %.0f): the lift should be found", pw.p, med)
	}
	if float64(wrong) > 0.05*float64(runs) {
		t.Errorf("wrong winner in %d of %d runs", wrong, runs)
	}
}

// banditArms are the simulated Bernoulli arms.
var banditArms = []float64{0.05, 0.06, 0.08}

// lairobbins is Lai and Robbins' asymptotic regret, sum over suboptimal
// arms of gap / KL(p_i, p*), times ln T.
func lairobbins(ps []float64, pulls int) float64 {
	best := slices.Max(ps)
	c := 0.0
	for _, p := range ps {
		if p < best {
			kl := p*math.Log(p/best) + (1-p)*math.Log((1-p)/(1-best))
			c += (best - p) / kl
		}
	}
	return c * math.Log(float64(pulls))
}

// policy chooses an arm for the next pull from the outcomes so far.
type policy func(r *rand.Rand, arms []Arm, pull int) int

func thompson(r *rand.Rand, arms []Arm, _ int) int { return ThompsonChoose(r, arms) }

func epsilonGreedy(eps float64) policy {
	return func(r *rand.Rand, arms []Arm, _ int) int {
		if r.Float64() < eps {
			return r.IntN(len(arms))
		}
		best, bestV, ties := 0, -1.0, 0
		for i, a := range arms {
			switch m := a.Mean(); {
			case m > bestV:
				best, bestV, ties = i, m, 1
			case m == bestV:
				ties++
				if r.IntN(ties) == 0 {
					best = i
				}
			}
		}
		return best
	}
}

// batched is what the engine does: every batch pulls, weights from
// ProbBest by probability matching with a floor; pulls in between follow
// the weights.
func batched(batch int, floor float64, seed uint64) policy {
	var weights []float64
	return func(r *rand.Rand, arms []Arm, pull int) int {
		if pull%batch == 0 {
			weights = BanditWeights(ProbBest(arms, 2000, seed+uint64(pull)), floor)
		}
		u := r.Float64() * 100
		for i, w := range weights {
			if u < w {
				return i
			}
			u -= w
		}
		return len(weights) - 1
	}
}

// regret is the mean pseudo-regret (sum of gaps of the arms pulled) over
// runs of pulls each, and its standard error.
func regret(seed uint64, runs, pulls int, mk func(run int) policy) (mean, se float64) {
	best := slices.Max(banditArms)
	r := NewRand(seed)
	var sum, sumSq float64
	for run := 0; run < runs; run++ {
		total := 0.0
		choose := mk(run)
		arms := make([]Arm, len(banditArms))
		for i := range arms {
			arms[i].Name = string(rune('a' + i))
		}
		for pull := 0; pull < pulls; pull++ {
			i := choose(r, arms, pull)
			arms[i].N++
			if r.Float64() < banditArms[i] {
				arms[i].Sum++
				arms[i].SumSq++
			}
			total += best - banditArms[i]
		}
		sum += total
		sumSq += total * total
	}
	n := float64(runs)
	mean = sum / n
	if runs > 1 {
		se = math.Sqrt((sumSq - sum*sum/n) / (n - 1) / n)
	}
	return mean, se
}

// TestSimBandit: Thompson sampling's regret is within 2x the Lai–Robbins
// asymptote and below epsilon-greedy's, whose regret grows linearly (the
// gap widens with the horizon: a second, longer horizon shows it).
func TestSimBandit(t *testing.T) {
	runs, pulls := scaled(50, 10), 20000
	lr := lairobbins(banditArms, pulls)
	ts, tsSE := regret(1, runs, pulls, func(int) policy { return thompson })
	eg, egSE := regret(1, runs, pulls, func(int) policy { return epsilonGreedy(0.1) })
	pm, pmSE := regret(1, runs, pulls, func(run int) policy { return batched(500, 0.05, uint64(run)<<32) })
	t.Logf("bandit, arms %v, %d pulls, mean of %d runs (± standard error)", banditArms, pulls, runs)
	t.Logf("  Lai-Robbins asymptote: %.1f", lr)
	t.Logf("  Thompson sampling per pull (router): regret %.1f ± %.1f (%.2fx the asymptote)", ts, tsSE, ts/lr)
	t.Logf("  probability matching every 500 pulls, floor 0.05 (engine weights): regret %.1f ± %.1f (%.2fx)", pm, pmSE, pm/lr)
	t.Logf("  epsilon-greedy(0.1): regret %.1f ± %.1f (%.2fx)", eg, egSE, eg/lr)
	if ts > 2*lr {
		t.Errorf("Thompson regret %.1f > 2x Lai-Robbins %.1f", ts, lr)
	}
	if full() && ts >= eg {
		t.Errorf("Thompson regret %.1f not below epsilon-greedy %.1f", ts, eg)
	}
	if !full() {
		return
	}
	long, lruns := 200000, 10
	lr = lairobbins(banditArms, long)
	ts, tsSE = regret(2, lruns, long, func(int) policy { return thompson })
	eg, egSE = regret(2, lruns, long, func(int) policy { return epsilonGreedy(0.1) })
	t.Logf("  %d pulls, %d runs: Lai-Robbins %.1f; Thompson %.1f ± %.1f (%.2fx); epsilon-greedy(0.1) %.1f ± %.1f (%.2fx)",
		long, lruns, lr, ts, tsSE, ts/lr, eg, egSE, eg/lr)
	if ts > 2*lr || ts > eg/3 {
		t.Errorf("long horizon: Thompson %.1f, epsilon-greedy %.1f, Lai-Robbins %.1f", ts, eg, lr)
	}
}

// canarySim measures one check on a canary receiving perInterval requests
// per interval over looks intervals, and counts the interval at which
// failures exceed failureLimit (0: never).
type canarySim struct {
	check        *spec.Check
	perInterval  int
	looks        int
	failureLimit int
	plain        bool // judge without the request count: a plain threshold
	baselineN    int  // requests per interval on the baseline (1% errors), for max_ratio
}

func (s canarySim) run(r *rand.Rand, pErr float64) int {
	fails := 0
	for look := 1; look <= s.looks; look++ {
		errs := binomial(r, s.perInterval, pErr)
		m := Measurement{Value: float64(errs) / float64(s.perInterval), Requests: int64(s.perInterval)}
		if s.baselineN > 0 {
			m.Baseline = float64(binomial(r, s.baselineN, 0.01)) / float64(s.baselineN)
			m.HasBaseline, m.BaselineRequests = true, int64(s.baselineN)
		}
		if s.plain {
			m.Requests, m.BaselineRequests = -1, 0
		}
		if v, _ := Judge(s.check, m); v == Fail {
			fails++
			if fails > s.failureLimit {
				return look
			}
		}
	}
	return 0
}

// failProb is the exact probability that one interval's measurement
// fails, at error rate pErr.
func (s canarySim) failProb(pErr float64) float64 {
	total := 0.0
	n := s.perInterval
	for k := 0; k <= n; k++ {
		m := Measurement{Value: float64(k) / float64(n), Requests: int64(n)}
		if s.plain {
			m.Requests = -1
		}
		if v, _ := Judge(s.check, m); v != Fail {
			continue
		}
		lg := func(x float64) float64 { v, _ := math.Lgamma(x); return v }
		logPMF := lg(float64(n+1)) - lg(float64(k+1)) - lg(float64(n-k+1)) +
			float64(k)*math.Log(pErr) + float64(n-k)*math.Log1p(-pErr)
		total += math.Exp(logPMF)
	}
	return total
}

// TestSimCanary: a canary whose error rate goes from 1% to 5% is caught
// within 3 intervals; a healthy canary (1%) is rolled back in under 0.5%
// of runs. Canary with steps [5, 25, 50] then 100%, bake 1m, interval 10s:
// 4 bakes of 6 measurements; the canary takes 50 req/s (500 requests per
// interval); check error_rate max 0.02 (2x the healthy rate), min_requests
// 50, failure_limit 0 (the default).
func TestSimCanary(t *testing.T) {
	runs := scaled(1000, 5)
	type row struct {
		max   float64
		plain bool
		fl    int
	}
	rows := []row{{0.02, false, 0}, {0.02, true, 0}, {0.02, true, 1}, {0.015, false, 0}, {0.03, true, 0}, {0.03, false, 0}}
	if !full() {
		rows = rows[:2]
	}
	t.Logf("canary, 500 requests per interval, 24 intervals (4 bakes x 6), healthy 1%%, bad 5%%, min_requests 50, %d runs each", runs)
	for i, rw := range rows {
		s := canarySim{
			check:        &spec.Check{Name: "errors", Metric: "error_rate", Source: "router", Max: f(rw.max), MinRequests: 50},
			perInterval:  500,
			looks:        24,
			failureLimit: rw.fl,
			plain:        rw.plain,
		}
		r := NewRand(uint64(100 + i))
		falseRB, caught3, sumAt := 0, 0, 0
		for run := 0; run < runs; run++ {
			if s.run(r, 0.01) > 0 {
				falseRB++
			}
			at := s.run(r, 0.05)
			if at > 0 && at <= 3 {
				caught3++
			}
			if at == 0 {
				at = s.looks + 1
			}
			sumAt += at
		}
		judge := "99% Wilson bound (Judge)"
		if rw.plain {
			judge = "plain threshold"
		}
		if rw.fl == 0 {
			// Exact figures: the probability that one interval fails, from
			// the binomial distribution of the errors.
			healthy, bad := s.failProb(0.01), s.failProb(0.05)
			t.Logf("  max %.3f, %s: exactly, one interval fails with p %.3g (healthy) and %.4f (bad): healthy rolled back %.3g per 24 intervals, bad caught within 3 intervals %.6f",
				rw.max, judge, healthy, bad, 1-math.Pow(1-healthy, 24), 1-math.Pow(1-bad, 3))
		}
		fr, c3 := newRate(falseRB, runs), newRate(caught3, runs)
		t.Logf("  max %.3f, %s, failure_limit %d: healthy rolled back %.4f (95%% CI %.4f-%.4f); bad caught within 3 intervals %.4f (CI %.4f-%.4f), mean interval %.2f",
			rw.max, judge, rw.fl, fr.p, fr.lo, fr.hi, c3.p, c3.lo, c3.hi, float64(sumAt)/float64(runs))
		if i == 0 { // the default settings
			for _, n := range []int{50, 100, 250, 1000} {
				less := s
				less.perInterval = n
				healthy, bad := less.failProb(0.01), less.failProb(0.05)
				t.Logf("  max %.3f, %s, %d requests per interval: exactly, healthy rolled back %.3g per 24 intervals, bad caught within 3 intervals %.4f",
					rw.max, judge, n, 1-math.Pow(1-healthy, 24), 1-math.Pow(1-bad, 3))
			}
			if full() && fr.p >= 0.005 {
				t.Errorf("healthy canary rolled back in %.4f of runs, want < 0.005", fr.p)
			}
			if c3.p < 0.99 {
				t.Errorf("bad canary caught within 3 intervals in %.4f of runs, want >= 0.99", c3.p)
			}
		}
	}
	// max_ratio on error_rate, against a baseline taking 2000 requests per
	// interval at 1%.
	for i, plain := range []bool{false, true} {
		if !full() && plain {
			break
		}
		s := canarySim{
			check:       &spec.Check{Name: "errors", Metric: "error_rate", Source: "router", MaxRatio: f(2), MinRequests: 50},
			perInterval: 500,
			looks:       24,
			plain:       plain,
			baselineN:   2000,
		}
		r := NewRand(uint64(200 + i))
		falseRB, caught3, sumAt := 0, 0, 0
		for run := 0; run < runs; run++ {
			if s.run(r, 0.01) > 0 {
				falseRB++
			}
			at := s.run(r, 0.05)
			if at > 0 && at <= 3 {
				caught3++
			}
			if at == 0 {
				at = s.looks + 1
			}
			sumAt += at
		}
		judge := "99% one-sided z-test (Judge)"
		if plain {
			judge = "plain ratio"
		}
		fr, c3 := newRate(falseRB, runs), newRate(caught3, runs)
		t.Logf("  max_ratio 2 vs a baseline on 2000 requests per interval, %s: healthy rolled back %.4f (95%% CI %.4f-%.4f); bad caught within 3 intervals %.4f (CI %.4f-%.4f), mean interval %.2f",
			judge, fr.p, fr.lo, fr.hi, c3.p, c3.lo, c3.hi, float64(sumAt)/float64(runs))
		if !plain && (c3.p < 0.95 || (full() && fr.p >= 0.005)) {
			t.Errorf("max_ratio: healthy rolled back %.4f, bad caught within 3 intervals %.4f", fr.p, c3.p)
		}
	}
}
