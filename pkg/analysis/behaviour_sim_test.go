package analysis

// Simulations of the behaviour checks (output_drift, accuracy from
// labels) over whole canary rollouts, through the real Meter, router
// source, references and Judge, with fixed seeds. The figures in
// bench/RESULTS.md ("behaviour checks") come from
//
//	go test -run TestSimBehaviour -v -long ./pkg/analysis/
//
// Without -long the runs are fewer (the suite stays fast) and only the
// bounds that hold at that size are asserted.

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

var simLong = flag.Bool("long", false, "run the behaviour simulations at their recorded size")

// behaviourRuns is n with -long, n/div otherwise, a fifth of that under
// the race detector (at least 10).
func behaviourRuns(n, div int) int {
	switch {
	case raceEnabled:
		return max(n/div/5, 10)
	case *simLong:
		return n
	}
	return max(n/div, 10)
}

// bigRuns is the runs at 5,000 answers per interval: 500 with -long, a
// smoke test of 4 otherwise (each run draws about 800,000 answers).
func bigRuns() int {
	if *simLong && !raceEnabled {
		return 500
	}
	return 4
}

// simSteps is the canary of the simulations: [5, 25, 50] then 100%, six
// intervals each (bake 1m, interval 10s): 24 measurements.
var simSteps = []float64{5, 25, 50, 100}

const simIntervalsPerStep = 6

// normalCells discretises N(0, 1) into equiprobable cells (the midpoints
// of 2048 quantiles), so drawing an answer is one random index: the
// bucket width of the sketches (about 3%) is far coarser.
var normalCells = func() []float64 {
	const n = 2048
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Sqrt2 * math.Erfinv(2*(float64(i)+0.5)/n-1)
	}
	return out
}()

// numericAnswers sketches n scores from N(shift, 1).
func numericAnswers(r *rand.Rand, n int, shift float64) behaviour.Sketch {
	counts := make([]uint64, len(normalCells))
	for range n {
		counts[r.IntN(len(counts))]++
	}
	var s behaviour.Sketch
	for i, c := range counts {
		s.AddNumberN(normalCells[i]+shift, c)
	}
	return s
}

// classAnswers sketches n classes, "fraud" with probability p.
func classAnswers(r *rand.Rand, n int, p float64) behaviour.Sketch {
	var fraud int
	for range n {
		if r.Float64() < p {
			fraud++
		}
	}
	var s behaviour.Sketch
	s.AddCategoryN("fraud", uint64(fraud))
	s.AddCategoryN("ok", uint64(n-fraud))
	return s
}

// behaviourSim runs one check over a whole canary: the canary takes
// perInterval answers each interval at every step; the previous version
// takes the rest of the traffic (19x at 5%, 3x at 25%, 1x at 50%, none at
// 100%, where the Meter's references stand in).
type behaviourSim struct {
	check       *spec.Check
	perInterval int
	// window gives the two versions' stats for one interval: canary
	// answers n, previous version m (0 at 100%).
	window func(r *rand.Rand, interval, n, m int) (canary, previous traffic.VersionStats)
}

// run returns the 1-based measurement that failed first, 0 for none, and
// how many measurements were judged (pass or fail, not no data).
func (s behaviourSim) run(r *rand.Rand) (failedAt, judged int) {
	model := &spec.Model{Name: "m", Stage: "s", Checks: []*spec.Check{s.check}}
	var st traffic.Stats
	mt := Meter{Sources: map[string]Source{"router": RouterSource{Stats: func(context.Context, time.Duration) (traffic.Stats, error) { return st, nil }}},
		References: NewReferences()}
	i := 0
	for _, step := range simSteps {
		for range simIntervalsPerStep {
			i++
			m := int(math.Round(float64(s.perInterval) * (100 - step) / step))
			cur, prev := s.window(r, i, s.perInterval, m)
			cur.Model, cur.Stage, cur.Version = "m", "s", "new"
			prev.Model, prev.Stage, prev.Version = "m", "s", "old"
			st = traffic.Stats{Versions: []traffic.VersionStats{cur, prev}}
			got, _ := mt.Measure(context.Background(), model, "new", "old", 10*time.Second)
			switch v, _ := Judge(s.check, got[s.check.Name]); v {
			case Fail:
				return i, judged + 1
			case Pass:
				judged++
			}
		}
	}
	return 0, judged
}

// outputWindow is a window function for output_drift: draw gives n
// answers of a version (canary true for the new one).
func outputWindow(draw func(r *rand.Rand, n int, canary bool) behaviour.Sketch) func(*rand.Rand, int, int, int) (traffic.VersionStats, traffic.VersionStats) {
	return func(r *rand.Rand, _, n, m int) (traffic.VersionStats, traffic.VersionStats) {
		cur := traffic.VersionStats{Requests: int64(n), Outputs: map[string]behaviour.Sketch{"/out": draw(r, n, true)}}
		prev := traffic.VersionStats{Requests: int64(m)}
		if m > 0 {
			prev.Outputs = map[string]behaviour.Sketch{"/out": draw(r, m, false)}
		}
		return cur, prev
	}
}

// driftCheck is an output_drift check; max 0 leaves max unset (the
// default for the output's kind).
func driftCheck(max float64) *spec.Check {
	c := &spec.Check{Name: "drift", Metric: "output_drift", Output: "/out", Source: "router", MinRequests: spec.DefaultMinRequests}
	if max > 0 {
		c.Max = &max
	}
	return c
}

// simOutcome is a simulation's runs: the 1-based measurement each failed
// at (0: never), and the share of measurements judged (the others gave no
// data: too few answers to judge).
type simOutcome struct {
	at     []int
	judged float64
}

// simulate runs s runs times from seed.
func simulate(s behaviourSim, seed uint64, runs int) simOutcome {
	r := NewRand(seed)
	o := simOutcome{at: make([]int, runs)}
	j, all := 0, 0
	for i := range runs {
		at, n := s.run(r)
		o.at[i] = at
		j += n
		all += simIntervalsPerStep * len(simSteps)
		if at > 0 {
			all -= simIntervalsPerStep*len(simSteps) - at
		}
	}
	o.judged = float64(j) / float64(all)
	return o
}

// within is the share of runs that failed within the first k
// measurements (k 0: anywhere in the rollout).
func (o simOutcome) within(k int) rate {
	n := 0
	for _, at := range o.at {
		if at > 0 && (k == 0 || at <= k) {
			n++
		}
	}
	return newRate(n, len(o.at))
}

func (r rate) String() string {
	return fmt.Sprintf("%d/%d = %.4f (95%% CI %.4f-%.4f)", r.k, r.n, r.p, r.lo, r.hi)
}

// same draws both versions' answers from one distribution (A/A).
func same(draw func(r *rand.Rand, n int) behaviour.Sketch) func(*rand.Rand, int, bool) behaviour.Sketch {
	return func(r *rand.Rand, n int, _ bool) behaviour.Sketch { return draw(r, n) }
}

// numbers is N(mean, 1) scores.
func numbers(mean float64) func(*rand.Rand, int) behaviour.Sketch {
	return func(r *rand.Rand, n int) behaviour.Sketch { return numericAnswers(r, n, mean) }
}

// mix is classes with "fraud" at share p.
func mix(p float64) func(*rand.Rand, int) behaviour.Sketch {
	return func(r *rand.Rand, n int) behaviour.Sketch { return classAnswers(r, n, p) }
}

// changed draws the canary's answers from one distribution, the previous
// version's from another.
func changed(prev, canary func(*rand.Rand, int) behaviour.Sketch) func(*rand.Rand, int, bool) behaviour.Sketch {
	return func(r *rand.Rand, n int, isCanary bool) behaviour.Sketch {
		if isCanary {
			return canary(r, n)
		}
		return prev(r, n)
	}
}

// TestSimBehaviourDriftAA: a canary answering like the previous version is
// rolled back by output_drift in under 1% of whole rollouts, with max 0.1
// and with the default max (0.1 for numbers, 0.03 for classes), at 50, 500
// and 5,000 answers per interval; also for a rare class (99/1), where the
// χ² law of the PSI is least exact.
func TestSimBehaviourDriftAA(t *testing.T) {
	seed := uint64(300)
	for _, out := range []struct {
		kind string
		max  float64
		draw func(*rand.Rand, int) behaviour.Sketch
		long bool // only with -long (the suite stays fast)
	}{
		{"numeric", 0.1, numbers(0), false},
		{"categorical 90/10", 0, mix(0.1), false},
		{"categorical 90/10", 0.1, mix(0.1), true},
		{"categorical 99/1", 0, mix(0.01), true},
	} {
		for _, n := range []int{50, 500, 5000} {
			runs := behaviourRuns(2000, 40*n/50)
			if n == 5000 {
				runs = bigRuns()
			}
			seed++
			if (out.long && !*simLong) || (raceEnabled && n == 5000) {
				continue // the suite stays fast; -long runs them all
			}
			o := simulate(behaviourSim{check: driftCheck(out.max), perInterval: n, window: outputWindow(same(out.draw))}, seed, runs)
			failed := o.within(0)
			t.Logf("A/A output_drift max %s, %s, %d answers per interval: rolled back %s; measurements judged %.3f",
				maxText(out.max), out.kind, n, failed, o.judged)
			if failed.p >= 0.01 {
				t.Errorf("A/A %s, max %s, at %d answers per interval: rolled back %.4f of rollouts, want < 0.01", out.kind, maxText(out.max), n, failed.p)
			}
		}
	}
}

// maxText is a max for the logs: 0 is the default.
func maxText(max float64) string {
	if max == 0 {
		return "default"
	}
	return fmt.Sprint(max)
}

// TestSimBehaviourDriftPower: a 0.5 SD shift of a numeric score, and a
// class mix from 90/10 to 80/20, are caught within 3 intervals at 500
// answers per interval in at least 99% of runs with the default max (0.1
// for numbers, 0.03 for classes); max 0.1 cannot catch the class mix by
// definition (its PSI is 0.081). With -long, the detection curves against
// the shift's size.
func TestSimBehaviourDriftPower(t *testing.T) {
	runs := behaviourRuns(1000, 20)
	o := simulate(behaviourSim{check: driftCheck(0), perInterval: 500, window: outputWindow(changed(numbers(0), numbers(0.5)))}, 400, runs)
	t.Logf("power output_drift default max (0.1), numeric shift 0.5 SD, 500 answers per interval: caught within 3 intervals %s", o.within(3))
	if o.within(3).p < 0.99 {
		t.Errorf("0.5 SD shift caught within 3 intervals in %.4f of runs, want >= 0.99", o.within(3).p)
	}
	psi := 0.1*math.Log(2) + 0.1*math.Log(0.9/0.8)
	for i, max := range []float64{0, 0.1, 0.05} {
		o := simulate(behaviourSim{check: driftCheck(max), perInterval: 500, window: outputWindow(changed(mix(0.1), mix(0.2)))}, uint64(410+i), runs)
		t.Logf("power output_drift max %s, classes 90/10 -> 80/20 (PSI %.3f), 500 answers per interval: caught within 3 intervals %s, in the rollout %s",
			maxText(max), psi, o.within(3), o.within(0))
		if max == 0 && o.within(3).p < 0.99 {
			t.Errorf("90/10 -> 80/20 with the default max caught within 3 intervals in %.4f of runs, want >= 0.99", o.within(3).p)
		}
	}
	if !*simLong {
		return
	}
	for _, n := range []int{50, 500, 5000} {
		for _, shift := range []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1} {
			o := simulate(behaviourSim{check: driftCheck(0), perInterval: n, window: outputWindow(changed(numbers(0), numbers(shift)))}, uint64(420+n)+uint64(shift*100), 200)
			t.Logf("curve output_drift default max (0.1), %d answers per interval, shift %.2f SD: within 3 intervals %.3f, in the rollout %.3f", n, shift, o.within(3).p, o.within(0).p)
		}
		for _, p := range []float64{0.11, 0.12, 0.14, 0.16, 0.18, 0.2, 0.25} {
			o := simulate(behaviourSim{check: driftCheck(0), perInterval: n, window: outputWindow(changed(mix(0.1), mix(p)))}, uint64(430+n)+uint64(p*100), 200)
			t.Logf("curve output_drift default max (0.03), %d answers per interval, classes 90/10 -> %.0f/%.0f: within 3 intervals %.3f, in the rollout %.3f", n, 100-100*p, 100*p, o.within(3).p, o.within(0).p)
		}
	}
}

// meanCheck is an output_mean check with max_ratio 1.25.
func meanCheck() *spec.Check {
	r := 1.25
	return &spec.Check{Name: "mean", Metric: "output_mean", Output: "/out", Source: "router", MaxRatio: &r, MinRequests: spec.DefaultMinRequests}
}

// TestSimBehaviourMean: output_mean with max_ratio 1.25 on scores N(2,
// 1): a healthy canary is rolled back in under 1% of rollouts at 50, 500
// and 5,000 answers per interval; a mean up by 0.75 (ratio 1.375) is
// caught within 3 intervals at 500.
func TestSimBehaviourMean(t *testing.T) {
	for i, n := range []int{50, 500, 5000} {
		runs := behaviourRuns(2000, 10*n/50)
		if n == 5000 {
			runs = bigRuns()
		}
		o := simulate(behaviourSim{check: meanCheck(), perInterval: n, window: outputWindow(same(numbers(2)))}, uint64(450+i), runs)
		t.Logf("A/A output_mean max_ratio 1.25, scores N(2, 1), %d answers per interval: rolled back %s; measurements judged %.3f", n, o.within(0), o.judged)
		if o.within(0).p >= 0.01 {
			t.Errorf("A/A output_mean at %d answers per interval: rolled back %.4f, want < 0.01", n, o.within(0).p)
		}
	}
	o := simulate(behaviourSim{check: meanCheck(), perInterval: 500, window: outputWindow(changed(numbers(2), numbers(2.75)))}, 460, behaviourRuns(1000, 20))
	t.Logf("power output_mean max_ratio 1.25, mean 2 -> 2.75 (ratio 1.375), 500 answers per interval: caught within 3 intervals %s", o.within(3))
	if o.within(3).p < 0.99 {
		t.Errorf("mean 2 -> 2.75 caught within 3 intervals in %.4f of runs, want >= 0.99", o.within(3).p)
	}
	if !*simLong {
		return
	}
	for _, n := range []int{50, 500, 5000} {
		for _, up := range []float64{0.25, 0.5, 0.6, 0.75, 1} {
			o := simulate(behaviourSim{check: meanCheck(), perInterval: n, window: outputWindow(changed(numbers(2), numbers(2+up)))}, uint64(470+n)+uint64(up*100), 200)
			t.Logf("curve output_mean max_ratio 1.25, %d answers per interval, mean 2 -> %.2f (ratio %.3f): within 3 intervals %.3f, in the rollout %.3f", n, 2+up, (2+up)/2, o.within(3).p, o.within(0).p)
		}
	}
}

// labelWindow simulates labels that arrive late: each answer gets a label
// with probability labelled, delay intervals later (uniform over 1..3).
// accuracy gives a version's accuracy (canary true for the new one).
type labelWindow struct {
	labelled float64
	accNew   float64
	accOld   float64
	// errNew and errOld, when set, make the outputs numbers whose error
	// against the label is N(0, err²) (mae, rmse) instead of classes.
	errNew, errOld float64
	// flipNew and flipOld, when probs is set, make the outputs
	// probabilities of a 0/1 label (log_loss): the label is 1 with
	// probability p ~ U(0, 1), and the output is p, or 1 - p in that share
	// of answers (a broken model).
	probs            bool
	flipNew, flipOld float64
	pending          map[string][]behaviour.Quality // per version, per future interval
}

func (w *labelWindow) window(r *rand.Rand, _, n, m int) (traffic.VersionStats, traffic.VersionStats) {
	if w.pending == nil {
		w.pending = map[string][]behaviour.Quality{}
	}
	answer := func(version string, count int, acc, sd, flip float64) traffic.VersionStats {
		q := w.pending[version]
		for len(q) < 4 {
			q = append(q, behaviour.Quality{})
		}
		for range count {
			if r.Float64() >= w.labelled {
				continue
			}
			d := 1 + r.IntN(3)
			if sd > 0 {
				q[d].Add(behaviour.Output{Kind: behaviour.OutNumber, Num: 5 + sd*r.NormFloat64()}, 5.0)
				continue
			}
			if w.probs {
				p, y := r.Float64(), 0.0
				if r.Float64() < p {
					y = 1
				}
				if r.Float64() < flip {
					p = 1 - p
				}
				q[d].Add(behaviour.Output{Kind: behaviour.OutNumber, Num: p}, y)
				continue
			}
			q[d].Labelled++
			if r.Float64() < acc {
				q[d].Correct++
			}
		}
		now := q[0]
		w.pending[version] = append(q[1:], behaviour.Quality{})
		vs := traffic.VersionStats{Requests: int64(count)}
		if now.Labelled > 0 {
			vs.Quality = map[string]behaviour.Quality{"/out": now}
		}
		return vs
	}
	return answer("new", n, w.accNew, w.errNew, w.flipNew), answer("old", m, w.accOld, w.errOld, w.flipOld)
}

// labelSim runs check c over a canary of n answers per interval,
// labelled as w says (its pending labels cleared at each run's start).
func labelSim(c *spec.Check, w *labelWindow, n int) behaviourSim {
	return behaviourSim{check: c, perInterval: n, window: func(r *rand.Rand, i, n, m int) (traffic.VersionStats, traffic.VersionStats) {
		if i == 1 {
			w.pending = nil
		}
		return w.window(r, i, n, m)
	}}
}

// labelAA checks that a healthy canary (sim(n)) is rolled back in under
// 1% of rollouts at 50, 500 and 5,000 answers per interval (2,000, 2,000
// and 500 runs with -long; seeds from seed on).
func labelAA(t *testing.T, what string, seed uint64, sim func(n int) behaviourSim) {
	t.Helper()
	for i, tc := range []struct {
		n    int
		runs int
	}{{50, behaviourRuns(2000, 10)}, {500, behaviourRuns(2000, 20)}, {5000, behaviourRuns(500, 50)}} {
		if raceEnabled && tc.n == 5000 {
			continue // the suite stays fast; -long runs it
		}
		o := simulate(sim(tc.n), seed+uint64(i), tc.runs)
		t.Logf("A/A %s, %d answers per interval: rolled back %s; measurements judged %.3f", what, tc.n, o.within(0), o.judged)
		if o.within(0).p >= 0.01 {
			t.Errorf("A/A %s at %d answers per interval: rolled back %.4f, want < 0.01", what, tc.n, o.within(0).p)
		}
	}
}

// accuracySim is the accuracy check (min_ratio 0.98) over a canary whose
// answers are labelled with probability labelled, 1-3 intervals late.
func accuracySim(n int, labelled, accNew, accOld float64) behaviourSim {
	r := 0.98
	c := &spec.Check{Name: "quality", Metric: "accuracy", Output: "/out", Source: "router", MinRatio: &r, MinRequests: spec.DefaultMinRequests}
	w := &labelWindow{labelled: labelled, accNew: accNew, accOld: accOld}
	return labelSim(c, w, n)
}

// TestSimBehaviourAccuracy: accuracy from labels that arrive one to three
// intervals late (half of the answers labelled), min_ratio 0.98, judged
// over the labels of the last 6 windows. A/A under 1% of rollouts at 50,
// 500 and 5,000 answers per interval; a drop from 0.9 to 0.8 caught within
// 3 intervals at 500 answers per interval in at least 99% of runs, the
// intervals counted as for output_drift but with the labels' delay added:
// the first 3 intervals' answers are all labelled by measurement 6. With
// -long, the detection curve.
func TestSimBehaviourAccuracy(t *testing.T) {
	labelAA(t, "accuracy min_ratio 0.98, accuracy 0.9, half the answers labelled 1-3 intervals late", 500,
		func(n int) behaviourSim { return accuracySim(n, 0.5, 0.9, 0.9) })
	runs := behaviourRuns(1000, 20)
	for i, tc := range []struct{ acc, labelled float64 }{{0.8, 0.5}, {0.85, 0.5}, {0.8, 1}} {
		o := simulate(accuracySim(500, tc.labelled, tc.acc, 0.9), uint64(510+i), runs)
		t.Logf("power accuracy min_ratio 0.98, 0.9 -> %.2f, %.0f%% labelled 1-3 intervals late, 500 answers per interval: caught within 3 intervals of the first labels (4 measurements) %s, within 3 intervals of full labels (6 measurements) %s, in the rollout %s",
			tc.acc, 100*tc.labelled, o.within(4), o.within(6), o.within(0))
		if tc.acc == 0.8 && o.within(6).p < 0.99 {
			t.Errorf("accuracy 0.9 -> 0.8, %.0f%% labelled, caught within 6 measurements in %.4f of runs, want >= 0.99", 100*tc.labelled, o.within(6).p)
		}
	}
	if !*simLong {
		return
	}
	for _, n := range []int{50, 500, 5000} {
		for _, acc := range []float64{0.88, 0.86, 0.85, 0.84, 0.82, 0.8, 0.75} {
			o := simulate(accuracySim(n, 0.5, acc, 0.9), uint64(520+n)+uint64(acc*100), 200)
			t.Logf("curve accuracy min_ratio 0.98, half labelled 1-3 intervals late, %d answers per interval, 0.9 -> %.2f: within 4 measurements %.3f, within 6 %.3f, in the rollout %.3f", n, acc, o.within(4).p, o.within(6).p, o.within(0).p)
		}
	}
}

// errorSim is a mae or rmse check (max_ratio 1.2) over a canary whose
// numeric answers miss their label by N(0, sdNew²) (the previous
// version's by N(0, sdOld²)), half of them labelled 1-3 intervals late.
func errorSim(metric string, n int, sdNew, sdOld float64) behaviourSim {
	r := 1.2
	c := &spec.Check{Name: "error", Metric: metric, Output: "/out", Source: "router", MaxRatio: &r, MinRequests: spec.DefaultMinRequests}
	w := &labelWindow{labelled: 0.5, errNew: sdNew, errOld: sdOld}
	return labelSim(c, w, n)
}

// TestSimBehaviourErrors: mae and rmse from late labels, max_ratio 1.2,
// judged by the 99.9% Fieller bound over the last 6 windows: A/A under 1%
// of rollouts at 50, 500 and 5,000 answers per interval; errors 50% larger
// caught by measurement 6 at 500.
func TestSimBehaviourErrors(t *testing.T) {
	for k, metric := range []string{"mae", "rmse"} {
		labelAA(t, metric+" max_ratio 1.2, errors N(0, 1), half the answers labelled 1-3 intervals late", uint64(600+10*k),
			func(n int) behaviourSim { return errorSim(metric, n, 1, 1) })
		o := simulate(errorSim(metric, 500, 1.5, 1), uint64(605+10*k), behaviourRuns(1000, 20))
		t.Logf("power %s max_ratio 1.2, errors 1.5x larger, half labelled 1-3 intervals late, 500 answers per interval: by measurement 4 %s, by measurement 6 %s, in the rollout %s",
			metric, o.within(4), o.within(6), o.within(0))
		if o.within(6).p < 0.99 {
			t.Errorf("%s ratio 1.5 caught by measurement 6 in %.4f of runs, want >= 0.99", metric, o.within(6).p)
		}
		if !*simLong {
			continue
		}
		for _, n := range []int{50, 500, 5000} {
			for _, up := range []float64{1.1, 1.2, 1.3, 1.4, 1.5, 2} {
				o := simulate(errorSim(metric, n, up, 1), uint64(620+10*k+n)+uint64(up*100), 200)
				t.Logf("curve %s max_ratio 1.2, half labelled 1-3 intervals late, %d answers per interval, errors %.2fx: by measurement 4 %.3f, by 6 %.3f, in the rollout %.3f", metric, n, up, o.within(4).p, o.within(6).p, o.within(0).p)
			}
		}
	}
}

// logLossSim is a log_loss check (max_ratio 1.1) over a canary that
// outputs 1 - p instead of p for a share flip of its answers, half of
// them labelled 1-3 intervals late.
func logLossSim(n int, flip float64) behaviourSim {
	r := 1.1
	c := &spec.Check{Name: "loss", Metric: "log_loss", Output: "/out", Source: "router", MaxRatio: &r, MinRequests: spec.DefaultMinRequests}
	w := &labelWindow{labelled: 0.5, probs: true, flipNew: flip}
	return labelSim(c, w, n)
}

// TestSimBehaviourLogLoss: log_loss from late labels, max_ratio 1.1: A/A
// under 1% of rollouts at 50, 500 and 5,000 answers per interval; a model
// flipping 20% of its probabilities (log loss 0.5 -> 0.7, ratio 1.4)
// caught by measurement 6 at 500. Log losses are heavy-tailed (-ln p),
// so a 10% flip (ratio 1.2) takes longer: see the curve.
func TestSimBehaviourLogLoss(t *testing.T) {
	labelAA(t, "log_loss max_ratio 1.1, calibrated probabilities, half the answers labelled 1-3 intervals late", 700,
		func(n int) behaviourSim { return logLossSim(n, 0) })
	o := simulate(logLossSim(500, 0.2), 710, behaviourRuns(1000, 20))
	t.Logf("power log_loss max_ratio 1.1, 20%% of probabilities flipped (ratio 1.4), half labelled 1-3 intervals late, 500 answers per interval: by measurement 4 %s, by measurement 6 %s, in the rollout %s",
		o.within(4), o.within(6), o.within(0))
	if o.within(6).p < 0.99 {
		t.Errorf("20%% flipped caught by measurement 6 in %.4f of runs, want >= 0.99", o.within(6).p)
	}
	if !*simLong {
		return
	}
	for _, n := range []int{50, 500, 5000} {
		for _, flip := range []float64{0.02, 0.05, 0.1, 0.15, 0.2, 0.3} {
			o := simulate(logLossSim(n, flip), uint64(720+n)+uint64(flip*1000), 200)
			t.Logf("curve log_loss max_ratio 1.1, half labelled 1-3 intervals late, %d answers per interval, %.0f%% flipped: by measurement 4 %.3f, by 6 %.3f, in the rollout %.3f", n, 100*flip, o.within(4).p, o.within(6).p, o.within(0).p)
		}
	}
}
