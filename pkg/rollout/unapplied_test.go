package rollout

import (
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// unapplied is a window measured while a replica had not acknowledged the
// model's table.
func unapplied(o Observations) Observations {
	o.Unapplied = `router "edge": 1 of 2 replicas have not acknowledged table generation 4`
	return o
}

// A step without checks advances only once its bake has run with the
// router's every part holding its traffic: the bake counts from the last
// Step that saw the route unacknowledged (the daemon sends it again right
// after that Step), not from when the route was decided.
func TestStepWaitsForTheTrafficThatStartsIt(t *testing.T) {
	m := baseModel(Canary)
	m.Checks = nil
	sc := newScenario(m)
	sc.roundTrip = true
	sc.play(t, concat(
		[]tick{adopted, {at: 5, serve: "v7", obs: none, phase: PhaseProgressing, weights: "v6:75 v7:25"}},
		[]tick{{at: 15, obs: unapplied(none), weights: "v6:75 v7:25", event: "held at step 1 of 3 (25% traffic): the router has not acknowledged"}},
		// The bake begun at t=5 would end at t=35: it does not count.
		[]tick{{at: 25, obs: unapplied(none), weights: "v6:75 v7:25"}, {at: 35, obs: unapplied(none), weights: "v6:75 v7:25"}},
		[]tick{{at: 45, obs: none, weights: "v6:75 v7:25", event: "every part of the router has the traffic at step 1 of 3"}},
		[]tick{{at: 55, obs: none, weights: "v6:75 v7:25"}},
		// Sent again after t=35 and acknowledged: 30s later the step is done.
		[]tick{{at: 65, obs: none, phase: PhaseProgressing, weights: "v6:50 v7:50", event: "50% on v7 at step 2 of 3"}},
	))
}

// A restore never waits for the traffic to be acknowledged everywhere: a
// failing check rolls back at the same Step with or without a replica
// behind.
func TestRestoreDoesNotWaitForUnacknowledgedTraffic(t *testing.T) {
	base, behind := newScenario(baseModel(Canary)), newScenario(baseModel(Canary))
	for _, sc := range []*scenario{base, behind} {
		sc.play(t, []tick{adopted, {at: 5, serve: "v7", obs: none}})
	}
	rolledBack := false
	for sec := 15; sec <= 65 && !rolledBack; sec += 10 {
		rt, acts := base.step(t, sec, bad)
		rt2, acts2 := behind.step(t, sec, unapplied(bad))
		if weightsOf(rt) != weightsOf(rt2) || summarize(acts) != summarize(acts2) {
			t.Fatalf("t=%ds: with every replica: %s %q; with one behind: %s %q", sec, weightsOf(rt), summarize(acts), weightsOf(rt2), summarize(acts2))
		}
		if behind.st.Phase == PhaseFailedHeld {
			rolledBack = true
			if weightsOf(rt2) != "v6:100" {
				t.Errorf("t=%ds: the rollback's route is %q, want v6:100", sec, weightsOf(rt2))
			}
		}
	}
	if !rolledBack {
		t.Fatalf("a failing check with a replica behind never rolled back (phase %s)", behind.st.Phase)
	}
}

// A replica that stays down holds the step for as long as it is down.
// After five intervals (at least a minute) the rollout is paused loudly,
// once: an error event and the paused phase. It never advances until the
// router has the traffic everywhere; then the bake runs and it goes on.
func TestLongUnacknowledgedHoldPausesLoudlyAndNeverAdvances(t *testing.T) {
	m := baseModel(Canary)
	m.Checks = nil
	sc := newScenario(m)
	sc.roundTrip = true
	held := "v6:75 v7:25"
	noError := func(t *testing.T, st ModelState, _ traffic.Route, acts []Action) {
		for _, a := range acts {
			if e, ok := a.(Event); ok && e.Level == LevelError {
				t.Errorf("the long hold was reported again: %s", e.Message)
			}
		}
	}
	ticks := []tick{adopted,
		{at: 5, serve: "v7", obs: none, phase: PhaseProgressing, weights: held},
		{at: 15, obs: unapplied(none), phase: PhaseProgressing, weights: held, event: "held at step 1 of 3"}}
	for at := 25; at < 75; at += 10 {
		ticks = append(ticks, tick{at: at, obs: unapplied(none), phase: PhaseProgressing, weights: held, check: noError})
	}
	// 60s after the hold began (interval 10s: five intervals are 50s, the
	// floor is a minute).
	ticks = append(ticks, tick{at: 75, obs: unapplied(none), phase: PhasePaused, weights: held,
		event: "paused at step 1 of 3 (25% traffic): the router has not acknowledged this traffic everywhere for 1m0s"})
	// An hour later: still the step's traffic, still paused, said once.
	for at := 85; at < 3600; at += 10 {
		ticks = append(ticks, tick{at: at, obs: unapplied(none), phase: PhasePaused, weights: held, check: noError})
	}
	ticks = append(ticks,
		tick{at: 3605, obs: none, phase: PhaseProgressing, weights: held, event: "every part of the router has the traffic at step 1 of 3"},
		tick{at: 3615, obs: none, phase: PhaseProgressing, weights: held},
		// The bake counts from the last Step that saw the hold (3595).
		tick{at: 3625, obs: none, phase: PhaseProgressing, weights: "v6:50 v7:50"},
	)
	sc.play(t, ticks)
	if r := sc.st.Rollout; r == nil || r.Unapplied || r.UnappliedLong || !r.UnappliedSince.IsZero() {
		t.Errorf("after the hold ended the rollout state still records it: %+v", r)
	}
}

// A hold persisted without its start (by a reconciler from before it was
// kept) counts from the first Step that sees it, not from the year 1.
func TestHoldWithoutItsStartCountsFromNow(t *testing.T) {
	m := baseModel(Canary)
	m.Checks = nil
	sc := newScenario(m)
	sc.play(t, []tick{adopted, {at: 5, serve: "v7", obs: none}, {at: 15, obs: unapplied(none)}})
	sc.st.Rollout.UnappliedSince = time.Time{}
	if _, acts := sc.step(t, 25, unapplied(none)); sc.st.Phase != PhaseProgressing || len(acts) != 0 {
		t.Fatalf("phase %s, actions %v: a hold of unknown start was reported long at once", sc.st.Phase, acts)
	}
	sc.step(t, 85, unapplied(none))
	if sc.st.Phase != PhasePaused {
		t.Fatalf("phase %s a minute after the hold was first seen without a start, want paused", sc.st.Phase)
	}
}
