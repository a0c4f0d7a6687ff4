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

// behaviourRuns is n with -long, n/div otherwise.
func behaviourRuns(n, div int) int {
	if *simLong && !raceEnabled {
		return n
	}
	return max(n/div, 10)
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

func driftCheck(max float64) *spec.Check {
	return &spec.Check{Name: "drift", Metric: "output_drift", Output: "/out", Source: "router", Max: &max, MinRequests: spec.DefaultMinRequests}
}

// simRate runs s runs times and returns the share that failed, and the
// share that failed within the first `within` measurements.
func simRate(s behaviourSim, seed uint64, runs, within int) (failed, early rate) {
	failed, early, _ = simRates(s, seed, runs, within)
	return failed, early
}

// simRates is simRate that also returns the share of measurements judged
// (the others gave no data: too few answers to judge).
func simRates(s behaviourSim, seed uint64, runs, within int) (failed, early rate, judged float64) {
	r := NewRand(seed)
	f, e, j, all := 0, 0, 0, 0
	for range runs {
		at, n := s.run(r)
		j += n
		all += simIntervalsPerStep * len(simSteps)
		if at > 0 {
			all -= simIntervalsPerStep*len(simSteps) - at
		}
		if at > 0 {
			f++
		}
		if at > 0 && at <= within {
			e++
		}
	}
	return newRate(f, runs), newRate(e, runs), float64(j) / float64(all)
}

func (r rate) String() string {
	return fmt.Sprintf("%d/%d = %.4f (95%% CI %.4f-%.4f)", r.k, r.n, r.p, r.lo, r.hi)
}

// TestSimBehaviourDriftAA: a canary answering like the previous version is
// rolled back by output_drift (max 0.1) in under 1% of whole rollouts.
func TestSimBehaviourDriftAA(t *testing.T) {
	for i, tc := range []struct {
		kind string
		n    int
		runs int
		draw func(r *rand.Rand, n int, canary bool) behaviour.Sketch
	}{
		{"numeric", 50, behaviourRuns(2000, 40), func(r *rand.Rand, n int, _ bool) behaviour.Sketch { return numericAnswers(r, n, 0) }},
		{"numeric", 500, behaviourRuns(2000, 80), func(r *rand.Rand, n int, _ bool) behaviour.Sketch { return numericAnswers(r, n, 0) }},
		{"numeric", 5000, behaviourRuns(500, 100), func(r *rand.Rand, n int, _ bool) behaviour.Sketch { return numericAnswers(r, n, 0) }},
		{"categorical 90/10", 50, behaviourRuns(2000, 10), func(r *rand.Rand, n int, _ bool) behaviour.Sketch { return classAnswers(r, n, 0.1) }},
		{"categorical 90/10", 500, behaviourRuns(2000, 20), func(r *rand.Rand, n int, _ bool) behaviour.Sketch { return classAnswers(r, n, 0.1) }},
		{"categorical 90/10", 5000, behaviourRuns(500, 50), func(r *rand.Rand, n int, _ bool) behaviour.Sketch { return classAnswers(r, n, 0.1) }},
	} {
		s := behaviourSim{check: driftCheck(0.1), perInterval: tc.n, window: outputWindow(tc.draw)}
		failed, _, judged := simRates(s, uint64(300+i), tc.runs, 3)
		t.Logf("A/A output_drift max 0.1, %s, %d answers per interval: rolled back %s; measurements judged %.3f", tc.kind, tc.n, failed, judged)
		if failed.p >= 0.01 {
			t.Errorf("A/A %s at %d answers per interval: rolled back %.4f of rollouts, want < 0.01", tc.kind, tc.n, failed.p)
		}
	}
}

// TestSimBehaviourDriftPower: a 0.5 SD shift of a numeric score, and a
// class mix from 90/10 to 80/20, are caught within 3 intervals at 500
// answers per interval in at least 99% of runs; and the detection curve
// against the shift's size.
func TestSimBehaviourDriftPower(t *testing.T) {
	runs := behaviourRuns(1000, 20)
	shifted := func(shift float64) func(r *rand.Rand, n int, canary bool) behaviour.Sketch {
		return func(r *rand.Rand, n int, canary bool) behaviour.Sketch {
			if canary {
				return numericAnswers(r, n, shift)
			}
			return numericAnswers(r, n, 0)
		}
	}
	mix := func(r *rand.Rand, n int, canary bool) behaviour.Sketch {
		if canary {
			return classAnswers(r, n, 0.2)
		}
		return classAnswers(r, n, 0.1)
	}
	s := behaviourSim{check: driftCheck(0.1), perInterval: 500, window: outputWindow(shifted(0.5))}
	_, early := simRate(s, 400, runs, 3)
	t.Logf("power output_drift max 0.1, numeric shift 0.5 SD, 500 answers per interval: caught within 3 intervals %s", early)
	if early.p < 0.99 {
		t.Errorf("0.5 SD shift caught within 3 intervals in %.4f of runs, want >= 0.99", early.p)
	}
	// 90/10 -> 80/20 is a PSI of 0.081: under max 0.1 by definition, so it
	// takes a max below it.
	psi := 0.1*math.Log(2) + 0.1*math.Log(0.9/0.8)
	for i, max := range []float64{0.1, 0.05, 0.03} {
		s := behaviourSim{check: driftCheck(max), perInterval: 500, window: outputWindow(mix)}
		failed, early := simRate(s, uint64(410+i), runs, 3)
		t.Logf("power output_drift max %v, classes 90/10 -> 80/20 (PSI %.3f), 500 answers per interval: caught within 3 intervals %s, in the rollout %s", max, psi, early, failed)
		if max == 0.03 && early.p < 0.99 {
			t.Errorf("90/10 -> 80/20 with max 0.03 caught within 3 intervals in %.4f of runs, want >= 0.99", early.p)
		}
	}
	if !*simLong {
		return
	}
	for _, n := range []int{50, 500, 5000} {
		for _, shift := range []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1} {
			s := behaviourSim{check: driftCheck(0.1), perInterval: n, window: outputWindow(shifted(shift))}
			failed, early := simRate(s, uint64(420+n)+uint64(shift*100), 200, 3)
			t.Logf("curve output_drift max 0.1, %d answers per interval, shift %.2f SD: within 3 intervals %.3f, in the rollout %.3f", n, shift, early.p, failed.p)
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
	pending  map[string][]behaviour.Quality // per version, per future interval
}

func (w *labelWindow) window(r *rand.Rand, _, n, m int) (traffic.VersionStats, traffic.VersionStats) {
	if w.pending == nil {
		w.pending = map[string][]behaviour.Quality{}
	}
	answer := func(version string, count int, acc float64) traffic.VersionStats {
		q := w.pending[version]
		for len(q) < 4 {
			q = append(q, behaviour.Quality{})
		}
		for range count {
			if r.Float64() >= w.labelled {
				continue
			}
			d := 1 + r.IntN(3)
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
	return answer("new", n, w.accNew), answer("old", m, w.accOld)
}

// TestSimBehaviourAccuracy: accuracy from labels that arrive one to three
// intervals late (half of the answers labelled), min_ratio 0.98.
func TestSimBehaviourAccuracy(t *testing.T) {
	check := func() *spec.Check {
		r := 0.98
		return &spec.Check{Name: "quality", Metric: "accuracy", Output: "/out", Source: "router", MinRatio: &r, MinRequests: spec.DefaultMinRequests}
	}
	for i, tc := range []struct {
		n    int
		runs int
	}{{50, behaviourRuns(2000, 10)}, {500, behaviourRuns(2000, 20)}, {5000, behaviourRuns(500, 50)}} {
		w := &labelWindow{labelled: 0.5, accNew: 0.9, accOld: 0.9}
		s := behaviourSim{check: check(), perInterval: tc.n, window: func(r *rand.Rand, i, n, m int) (traffic.VersionStats, traffic.VersionStats) {
			if i == 1 {
				w.pending = nil
			}
			return w.window(r, i, n, m)
		}}
		failed, _, judged := simRates(s, uint64(500+i), tc.runs, 3)
		t.Logf("A/A accuracy min_ratio 0.98, accuracy 0.9, half the answers labelled 1-3 intervals late, %d answers per interval: rolled back %s; measurements judged %.3f", tc.n, failed, judged)
		if failed.p >= 0.01 {
			t.Errorf("A/A accuracy at %d answers per interval: rolled back %.4f, want < 0.01", tc.n, failed.p)
		}
	}
	runs := behaviourRuns(1000, 20)
	for i, tc := range []struct{ acc, labelled float64 }{{0.8, 0.5}, {0.85, 0.5}, {0.8, 1}} {
		acc := tc.acc
		w := &labelWindow{labelled: tc.labelled, accNew: acc, accOld: 0.9}
		s := behaviourSim{check: check(), perInterval: 500, window: func(r *rand.Rand, i, n, m int) (traffic.VersionStats, traffic.VersionStats) {
			if i == 1 {
				w.pending = nil
			}
			return w.window(r, i, n, m)
		}}
		failed, early := simRate(s, uint64(510+i), runs, 4)
		t.Logf("power accuracy min_ratio 0.98, 0.9 -> %.2f, %.0f%% labelled 1-3 intervals late, 500 answers per interval: caught within 3 intervals of the first labels (4 measurements) %s, in the rollout %s", acc, 100*tc.labelled, early, failed)
		if acc == 0.8 && failed.p < 0.99 {
			t.Errorf("accuracy 0.9 -> 0.8 caught in the rollout in %.4f of runs, want >= 0.99", failed.p)
		}
	}
}
