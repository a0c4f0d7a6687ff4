package rollout

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// End-to-end simulations through Step itself (engine + real judges), with
// fixed seeds. Figures go to bench/RESULTS.md, section "rollout"; run
// with -v to see them.

func binomial(r *rand.Rand, n int, p float64) int64 {
	k := int64(0)
	for i := 0; i < n; i++ {
		if r.Float64() < p {
			k++
		}
	}
	return k
}

// wilson95 is the 95% Wilson interval of k successes in n.
func wilson95(k, n int) (float64, float64) {
	z := 1.959963984540054
	p, nn := float64(k)/float64(n), float64(n)
	d := 1 + z*z/nn
	c := (p + z*z/(2*nn)) / d
	h := z * math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn)) / d
	return math.Max(0, c-h), math.Min(1, c+h)
}

// simCanary runs one canary (steps 5, 25, 50, then 100; bake 1m, interval
// 10s; error_rate max 0.02, min_requests 50; failure_limit 0) with the
// canary taking perInterval requests per interval at error rate p. It
// returns whether it was rolled back and after how many measurements.
func simCanary(r *rand.Rand, p float64, perInterval int) (rolledBack bool, intervals int) {
	m := baseModel(Canary)
	m.Rollout.Steps, m.Rollout.Bake = []float64{5, 25, 50}, time.Minute
	m.Checks[0].Max = f(0.02)
	st, _, _ := Step(m, "c0", ModelState{}, Observations{}, t0)
	m.Serve = "v7"
	now := t0.Add(time.Second)
	st, _, _ = Step(m, "c1", st, Observations{}, now)
	for i := 1; i <= 40; i++ {
		now = now.Add(10 * time.Second)
		errors := binomial(r, perInterval, p)
		obs := Observations{Checks: map[string]analysis.Measurement{"errors": {
			Check: "errors", Version: "v7", Value: float64(errors) / float64(perInterval),
			Requests: int64(perInterval), Baseline: 0.01, HasBaseline: true,
		}}}
		st, _, _ = Step(m, "c1", st, obs, now)
		switch st.Phase {
		case PhaseFailedHeld:
			return true, i
		case PhaseSucceeded:
			return false, i
		}
	}
	panic("canary neither succeeded nor failed in 40 intervals")
}

func TestSimulatedCanary(t *testing.T) {
	const runs = 1000
	r := rand.New(rand.NewPCG(20261126, 1))
	healthyRolledBack, healthyIntervals := 0, 0
	for i := 0; i < runs; i++ {
		rb, n := simCanary(r, 0.01, 500)
		if rb {
			healthyRolledBack++
		} else {
			healthyIntervals = n
		}
	}
	caught3, total := 0, 0
	for i := 0; i < runs; i++ {
		rb, n := simCanary(r, 0.05, 500)
		if rb && n <= 3 {
			caught3++
		}
		total += n
	}
	lo, hi := wilson95(healthyRolledBack, runs)
	clo, chi := wilson95(caught3, runs)
	t.Logf("healthy canary (1%% errors, 500 req/interval): rolled back %d/%d = %.4f (95%% CI %.4f–%.4f); a healthy run takes %d intervals",
		healthyRolledBack, runs, float64(healthyRolledBack)/runs, lo, hi, healthyIntervals)
	t.Logf("bad canary (5%% errors from step 1): caught within 3 intervals %d/%d = %.4f (95%% CI %.4f–%.4f), mean %.2f intervals",
		caught3, runs, float64(caught3)/runs, clo, chi, float64(total)/runs)
	if float64(healthyRolledBack)/runs >= 0.005 {
		t.Errorf("healthy canaries rolled back: %d of %d, want under 0.5%%", healthyRolledBack, runs)
	}
	if float64(caught3)/runs < 0.99 {
		t.Errorf("bad canaries caught within 3 intervals: %d of %d, want at least 99%%", caught3, runs)
	}
}

// simAB runs one A/B test through the engine with auto_promote, both arms
// converting at pa and pb, perInterval rewards per arm per interval, until
// a commit (promote or conclude). It returns the promoted version ("" for
// conclude) and the samples per arm at the decision.
func simAB(r *rand.Rand, pa, pb float64, perInterval int, minSamples int) (string, int64) {
	m := baseModel(AllAtOnce)
	m.Experiment = &spec.Experiment{Method: MethodAB, Variants: map[string]float64{"v6": 50, "v7": 50},
		VariantOrder: []string{"v6", "v7"}, Alpha: 0.05, MinSamples: minSamples, AutoPromote: true}
	st, _, _ := Step(m, "c0", ModelState{}, Observations{}, t0)
	now := t0
	for i := 0; i < 10000; i++ {
		now = now.Add(10 * time.Second)
		a, b := binomial(r, perInterval, pa), binomial(r, perInterval, pb)
		obs := Observations{Versions: map[string]traffic.VersionStats{
			"v6": {Version: "v6", Rewards: int64(perInterval), RewardSum: float64(a), RewardSumSq: float64(a)},
			"v7": {Version: "v7", Rewards: int64(perInterval), RewardSum: float64(b), RewardSumSq: float64(b)},
		}}
		var acts []Action
		st, _, acts = Step(m, "c0", st, obs, now)
		for _, act := range acts {
			if c, ok := act.(WriteCommit); ok {
				n := st.Experiment.Stats["v6"].N
				if c.Kind == CommitPromote {
					return c.To, n
				}
				return "", n
			}
		}
	}
	panic("experiment never ended")
}

func TestSimulatedAB(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(20261126, 2))
	// A/A: every interval is a look (continuous monitoring) until the
	// horizon (20 × min_samples per arm).
	const aa = 500
	falseWinners := 0
	for i := 0; i < aa; i++ {
		if w, _ := simAB(r, 0.05, 0.05, 250, 500); w != "" {
			falseWinners++
		}
	}
	lo, hi := wilson95(falseWinners, aa)
	t.Logf("A/A (5%% vs 5%%, 250 rewards per arm per 10s, min_samples 500, checked every interval up to 10000 per arm): false winners %d/%d = %.4f (95%% CI %.4f–%.4f)",
		falseWinners, aa, float64(falseWinners)/aa, lo, hi)
	if lo > 0.05 {
		t.Errorf("false-winner rate %d/%d is above alpha 0.05", falseWinners, aa)
	}
	// Power: 5% → 6%.
	const power = 200
	found := 0
	var samples []int64
	for i := 0; i < power; i++ {
		w, n := simAB(r, 0.05, 0.06, 250, 1000)
		if w == "v7" {
			found++
			samples = append(samples, n)
		}
	}
	med := int64(0)
	if len(samples) > 0 {
		sortInt64(samples)
		med = samples[len(samples)/2]
	}
	t.Logf("5%% → 6%% (min_samples 1000, horizon 20000 per arm): v7 promoted in %d/%d, median %d samples per arm at promotion",
		found, power, med)
	if found < power/2 {
		t.Errorf("a 5%% → 6%% lift promoted in only %d of %d experiments", found, power)
	}
}

func sortInt64(x []int64) {
	for i := 1; i < len(x); i++ {
		for j := i; j > 0 && x[j] < x[j-1]; j-- {
			x[j], x[j-1] = x[j-1], x[j]
		}
	}
}

func BenchmarkStepCanary(b *testing.B) {
	m := baseModel(Canary)
	st, _, _ := Step(m, "c0", ModelState{}, Observations{}, t0)
	m.Serve = "v7"
	st, _, _ = Step(m, "c1", st, Observations{}, at(1))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Step(m, "c1", st, good, at(11))
	}
}

func BenchmarkStepBandit(b *testing.B) {
	m := banditModel()
	st, _, _ := Step(m, "c0", ModelState{}, Observations{}, t0)
	obs := rewards(map[string][2]int64{"v6": {100, 5}, "v7": {100, 6}, "v8": {100, 15}})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Step(m, "c0", st, obs, at(10))
	}
}
