package rollout

import (
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// rewards is one window of feedback: per version, n rewards summing to s
// (conversions: each reward 0 or 1).
func rewards(per map[string][2]int64) Observations {
	o := Observations{Versions: map[string]traffic.VersionStats{}}
	for v, ns := range per {
		o.Versions[v] = traffic.VersionStats{Model: "fraud", Stage: "production", Version: v,
			Rewards: ns[0], RewardSum: float64(ns[1]), RewardSumSq: float64(ns[1])}
	}
	return o
}

func abModel(variants map[string]float64, order []string) *spec.Model {
	m := baseModel(AllAtOnce)
	m.Experiment = &spec.Experiment{
		Method: MethodAB, Variants: variants, VariantOrder: order, Sticky: "header:x-user-id",
		Reward: "feedback", Alpha: 0.05, MinSamples: 1000, AutoPromote: true,
		ExploreFloor: 0.05, PromoteWhen: 0.95,
	}
	return m
}

// runUntilCommit steps every 10s from sec with obs until a commit appears
// (at most max ticks) and returns the time and the actions of that tick.
func runUntilCommit(t *testing.T, sc *scenario, sec, max int, obs Observations) (int, []Action) {
	t.Helper()
	for i := 0; i < max; i++ {
		sec += 10
		_, acts := sc.step(t, sec, obs)
		for _, a := range acts {
			if _, ok := a.(WriteCommit); ok {
				return sec, acts
			}
		}
	}
	t.Fatalf("no commit after %d ticks; state %+v", max, sc.st.Experiment)
	return 0, nil
}

func TestABWinnerIsPromoted(t *testing.T) {
	sc := newScenario(abModel(map[string]float64{"v6": 50, "v7": 50}, []string{"v6", "v7"}))
	sc.play(t, []tick{{at: 0, obs: none, phase: PhaseExperimenting, weights: "v6:50 v7:50", event: "experiment (ab) started",
		check: func(t *testing.T, _ ModelState, rt traffic.Route, _ []Action) {
			if rt.Sticky != "header:x-user-id" || rt.Bandit != nil {
				t.Errorf("route sticky %q bandit %+v", rt.Sticky, rt.Bandit)
			}
		}}})
	// v7 converts at 10%, v6 at 5%: 500 rewards each per window.
	win := rewards(map[string][2]int64{"v6": {500, 25}, "v7": {500, 50}})
	sec, acts := runUntilCommit(t, sc, 0, 50, win)
	if got := summarize(acts); got != "verdict:experiment:winner commit:promote(v6>v7)" {
		t.Fatalf("actions %q", got)
	}
	c := commitOf(t, acts)
	if !c.RemoveExperiment || c.Commit != "c0" || !strings.Contains(c.Reason, "v7 beats v6") {
		t.Errorf("commit %+v", c)
	}
	if n := sc.st.Experiment.Stats["v7"].N; n < 1000 {
		t.Errorf("decided with %d samples, under min_samples", n)
	}
	sc.play(t, []tick{
		{at: sec, obs: win, phase: PhaseHeld, weights: "v7:100", acts: "*"},
		{at: sec + 10, obs: win, phase: PhaseHeld, weights: "v7:100", check: awaiting(CommitPromote)},
		// The promote commit lands: serve = v7 and no experiment block.
		{at: sec + 20, serve: "v7", edit: func(m *spec.Model) { m.Experiment = nil }, obs: win, phase: PhaseIdle, weights: "v7:100", event: "Git now says serve", check: awaiting("")},
		{at: sec + 30, obs: win, phase: PhaseIdle, weights: "v7:100"},
	})
}

func TestABWithoutDifferenceConcludes(t *testing.T) {
	m := abModel(map[string]float64{"v6": 50, "v7": 50}, []string{"v6", "v7"})
	m.Experiment.MinSamples = 100 // horizon: 2000 per variant
	sc := newScenario(m)
	sc.play(t, []tick{{at: 0, obs: none, phase: PhaseExperimenting}})
	same := rewards(map[string][2]int64{"v6": {250, 12}, "v7": {250, 12}})
	sec, acts := runUntilCommit(t, sc, 0, 20, same)
	if got := summarize(acts); got != "verdict:experiment:no_difference commit:conclude(v6>v6)" {
		t.Fatalf("actions %q", got)
	}
	if !strings.Contains(commitOf(t, acts).Reason, "no decision after 2000 samples per variant") {
		t.Errorf("reason %q", commitOf(t, acts).Reason)
	}
	sc.play(t, []tick{
		{at: sec, obs: same, phase: PhaseIdle, weights: "v6:100", acts: "*"},
		// The block is still in Git until the conclude commit lands: no restart.
		{at: sec + 10, obs: same, phase: PhaseIdle, weights: "v6:100", check: awaiting(CommitConclude)},
		{at: sec + 20, edit: func(m *spec.Model) { m.Experiment = nil }, obs: same, phase: PhaseIdle, weights: "v6:100", check: awaiting("")},
	})
}

func TestABWithoutAutoPromoteRecordsOnce(t *testing.T) {
	m := abModel(map[string]float64{"v6": 50, "v7": 50}, []string{"v6", "v7"})
	m.Experiment.AutoPromote = false
	sc := newScenario(m)
	sc.play(t, []tick{{at: 0, obs: none}})
	win := rewards(map[string][2]int64{"v6": {500, 25}, "v7": {500, 50}})
	verdicts := 0
	for sec := 10; sec <= 300; sec += 10 {
		rt, acts := sc.step(t, sec, win)
		if strings.Contains(summarize(acts), "commit") {
			t.Fatalf("t=%d: a commit without auto_promote: %s", sec, summarize(acts))
		}
		if strings.Contains(summarize(acts), "verdict:experiment:winner") {
			verdicts++
			if !hasEvent(acts, `promote with a PR setting serve = "v7"`) {
				t.Errorf("event does not say what to do: %v", events(acts))
			}
		}
		if weightsOf(rt) != "v6:50 v7:50" || sc.st.Phase != PhaseExperimenting {
			t.Fatalf("t=%d: %s %s", sec, weightsOf(rt), sc.st.Phase)
		}
	}
	if verdicts != 1 {
		t.Fatalf("%d winner verdicts, want exactly 1", verdicts)
	}
}

func TestABManyVariantsComparesEachWithControl(t *testing.T) {
	sc := newScenario(abModel(map[string]float64{"v6": 40, "v7": 30, "v8": 30}, []string{"v6", "v7", "v8"}))
	sc.play(t, []tick{{at: 0, obs: none, weights: "v6:40 v7:30 v8:30"}})
	win := rewards(map[string][2]int64{"v6": {500, 25}, "v7": {500, 26}, "v8": {500, 60}})
	_, acts := runUntilCommit(t, sc, 0, 50, win)
	if got := summarize(acts); got != "verdict:experiment:winner commit:promote(v6>v8)" {
		t.Fatalf("actions %q", got)
	}
}

func banditModel() *spec.Model {
	m := abModel(map[string]float64{"v6": 50, "v7": 25, "v8": 25}, []string{"v6", "v7", "v8"})
	m.Experiment.Method, m.Experiment.MinSamples, m.Experiment.Sticky = MethodBandit, 200, ""
	return m
}

func TestBanditShiftsWeightsAndPromotes(t *testing.T) {
	sc := newScenario(banditModel())
	sc.play(t, []tick{{at: 0, obs: none, phase: PhaseExperimenting, weights: "v6:50 v7:25 v8:25",
		check: func(t *testing.T, _ ModelState, rt traffic.Route, _ []Action) {
			if rt.Bandit == nil || strings.Join(rt.Bandit.Arms, ",") != "v6,v7,v8" || rt.Bandit.ExploreFloor != 0.05 {
				t.Errorf("bandit %+v", rt.Bandit)
			}
		}}})
	obs := rewards(map[string][2]int64{"v6": {100, 5}, "v7": {100, 6}, "v8": {100, 15}})
	rt, _ := sc.step(t, 10, obs)
	w := map[string]float64{}
	for _, x := range rt.Weights {
		w[x.Version] = x.Percent
	}
	if !(w["v8"] > w["v6"] && w["v8"] > 25) || w["v6"] < 5 || w["v7"] < 5 {
		t.Errorf("weights after one window %v: want v8 favoured and every arm at least the 5%% floor", rt.Weights)
	}
	if sc.st.Draws != 1 {
		t.Errorf("draws = %d, want 1", sc.st.Draws)
	}
	// No new rewards: the weights stay (no Monte Carlo jitter).
	rt2, _ := sc.step(t, 20, none)
	if weightsOf(rt2) != weightsOf(rt) {
		t.Errorf("weights moved without data: %s → %s", weightsOf(rt), weightsOf(rt2))
	}
	_, acts := runUntilCommit(t, sc, 20, 50, obs)
	if got := summarize(acts); got != "verdict:experiment:winner commit:promote(v6>v8)" {
		t.Fatalf("actions %q", got)
	}
	if sc.st.Phase != PhaseHeld || sc.st.Stable != "v8" {
		t.Errorf("phase %s stable %s", sc.st.Phase, sc.st.Stable)
	}
}

func TestBanditNeverPromotesAHeuristic(t *testing.T) {
	m := banditModel()
	m.Experiment.Variants = map[string]float64{"v6": 50, "rules": 50}
	m.Experiment.VariantOrder = []string{"v6", "rules"}
	sc := newScenario(m)
	sc.play(t, []tick{{at: 0, obs: none}})
	obs := rewards(map[string][2]int64{"v6": {500, 10}, "rules": {500, 100}})
	_, acts := runUntilCommit(t, sc, 0, 20, obs)
	if got := summarize(acts); got != "verdict:experiment:no_difference commit:conclude(v6>v6)" {
		t.Fatalf("actions %q", got)
	}
	if sc.st.Stable != "v6" {
		t.Errorf("stable %s", sc.st.Stable)
	}
}

func TestABHeuristicWinnerConcludes(t *testing.T) {
	sc := newScenario(abModel(map[string]float64{"v6": 50, "rules": 50}, []string{"v6", "rules"}))
	sc.play(t, []tick{{at: 0, obs: none}})
	_, acts := runUntilCommit(t, sc, 0, 50, rewards(map[string][2]int64{"v6": {500, 25}, "rules": {500, 60}}))
	if got := summarize(acts); got != "verdict:experiment:no_difference commit:conclude(v6>v6)" {
		t.Fatalf("actions %q", got)
	}
	if !strings.Contains(commitOf(t, acts).Reason, "rules is a heuristic, never promoted") {
		t.Errorf("reason %q", commitOf(t, acts).Reason)
	}
}

func TestExperimentLifecycle(t *testing.T) {
	obs := rewards(map[string][2]int64{"v6": {10, 1}, "v7": {10, 1}})
	t.Run("removed from the spec: ends, traffic to serve", func(t *testing.T) {
		sc := newScenario(abModel(map[string]float64{"v6": 50, "v7": 50}, []string{"v6", "v7"}))
		sc.play(t, []tick{
			{at: 0, obs: none, phase: PhaseExperimenting},
			{at: 10, obs: obs, phase: PhaseExperimenting, weights: "v6:50 v7:50"},
			{at: 20, edit: func(m *spec.Model) { m.Experiment = nil }, obs: obs, phase: PhaseIdle, weights: "v6:100",
				acts: "verdict:experiment:ended", event: "its block was removed"},
		})
	})
	t.Run("serve changes: the experiment yields to the rollout, then restarts", func(t *testing.T) {
		sc := newScenario(abModel(map[string]float64{"v6": 50, "v7": 50}, []string{"v6", "v7"}))
		sc.play(t, concat(
			[]tick{{at: 0, obs: none, phase: PhaseExperimenting}},
			[]tick{{at: 5, serve: "v7", obs: none, phase: PhaseBaking, weights: "v6:0 v7:100", acts: "verdict:experiment:ended"}},
			every(15, 25, good),
			[]tick{{at: 35, obs: good, phase: PhaseExperimenting, weights: "v6:50 v7:50", acts: "verdict:rollout:succeeded", event: "experiment (ab) started"}},
		))
		if sc.st.Experiment.Stats["v6"].N != 0 {
			t.Errorf("restarted experiment kept old stats: %+v", sc.st.Experiment.Stats)
		}
	})
	t.Run("a held model runs no experiment", func(t *testing.T) {
		m := baseModel(AllAtOnce)
		sc := newScenario(m)
		sc.play(t, []tick{adopted,
			{at: 5, serve: "v7", obs: none},
			{at: 15, obs: bad, phase: PhaseFailedHeld, acts: "verdict:rollout:rolled_back commit:rollback(v7>v6)"},
			{at: 25, edit: func(m *spec.Model) {
				m.Experiment = &spec.Experiment{Method: MethodAB, Variants: map[string]float64{"v6": 50, "v8": 50}, VariantOrder: []string{"v6", "v8"}, MinSamples: 10}
			}, obs: obs, phase: PhaseFailedHeld, weights: "v6:100"},
		})
	})
	t.Run("a changed block restarts the experiment", func(t *testing.T) {
		sc := newScenario(abModel(map[string]float64{"v6": 50, "v7": 50}, []string{"v6", "v7"}))
		sc.play(t, []tick{
			{at: 0, obs: none},
			{at: 10, obs: obs},
			{at: 20, edit: func(m *spec.Model) { m.Experiment.Variants = map[string]float64{"v6": 80, "v7": 20} }, obs: obs,
				phase: PhaseExperimenting, weights: "v6:80 v7:20", acts: "verdict:experiment:ended"},
		})
	})
}

func TestABControlWinsIsPromotedWithoutAHold(t *testing.T) {
	sc := newScenario(abModel(map[string]float64{"v6": 50, "v7": 50}, []string{"v6", "v7"}))
	sc.play(t, []tick{{at: 0, obs: none}})
	sec, acts := runUntilCommit(t, sc, 0, 50, rewards(map[string][2]int64{"v6": {500, 50}, "v7": {500, 25}}))
	if got := summarize(acts); got != "verdict:experiment:winner commit:promote(v6>v6)" {
		t.Fatalf("actions %q", got)
	}
	sc.play(t, []tick{{at: sec + 10, obs: none, phase: PhaseIdle, weights: "v6:100"}})
}

// An experiment (or a shadow assessment) added between two measurements
// measures from its start: the feedback of the window before it, when the
// control took all the traffic, is not the experiment's.
func TestExperimentAndShadowMeasureFromTheirStart(t *testing.T) {
	sc := newScenario(baseModel(AllAtOnce))
	sc.play(t, []tick{adopted, {at: 10, obs: none, phase: PhaseIdle}})
	sc.play(t, []tick{{at: 14, edit: func(m *spec.Model) {
		m.Experiment = abModel(map[string]float64{"v6": 50, "v7": 50}, []string{"v6", "v7"}).Experiment
	}, obs: none, phase: PhaseExperimenting, event: "experiment (ab) started"}})
	if got, want := sc.st.MeasuredAt, sc.st.Experiment.StartedAt; !got.Equal(want) {
		t.Fatalf("the first window starts at %v, want the experiment's start %v", got, want)
	}
	sc = newScenario(baseModel(AllAtOnce))
	sc.play(t, []tick{adopted, {at: 10, obs: none, phase: PhaseIdle}})
	sc.play(t, []tick{{at: 14, edit: func(m *spec.Model) {
		m.Shadow = &spec.Shadow{Version: "v7", Percent: 100, Compare: "json", MinSamples: 100, MinAgreement: 0.9}
	}, obs: none}})
	if sc.st.Shadow == nil || !sc.st.MeasuredAt.Equal(sc.st.Shadow.StartedAt) {
		t.Fatalf("shadow %+v, first window from %v", sc.st.Shadow, sc.st.MeasuredAt)
	}
}
