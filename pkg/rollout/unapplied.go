package rollout

import "time"

// Holding a step for traffic the router has not acknowledged everywhere.
const (
	// UnappliedPatienceIntervals is how many of the rollout's intervals a
	// step may be held for unacknowledged traffic before the hold is
	// reported loudly (phase paused, an error in the log, a "paused"
	// notification); never less than UnappliedPatienceMin.
	UnappliedPatienceIntervals = 5
	UnappliedPatienceMin       = time.Minute
)

// unappliedPatience is how long a hold lasts before it is reported loudly.
func unappliedPatience(p Plan) time.Duration {
	return max(UnappliedPatienceIntervals*p.Interval, UnappliedPatienceMin)
}

// awaitTraffic holds the current step while the router has not
// acknowledged its traffic everywhere (obs.Unapplied): the step's bake
// restarts at every Step that sees it so, and so counts from the last one
// (after which the daemon sends the route again), so that a step never
// advances on a bake spent partly on the old traffic. Measurements still
// count (a failing check still restores, which never waits). A hold that
// lasts past unappliedPatience (a replica that stays down) pauses the
// rollout loudly, once; it never advances it. It reports whether the step
// is held.
func (s *stepper) awaitTraffic() bool {
	r := s.st.Rollout
	if s.obs.Unapplied == "" {
		if r.Unapplied {
			r.Unapplied, r.UnappliedSince, r.UnappliedLong = false, time.Time{}, false
			s.event(LevelInfo, "%s: every part of the router has the traffic %s; the bake of %s starts", s.key, s.where(), r.Plan.Bake)
		}
		return false
	}
	r.StepStartedAt, r.Seen = s.now, nil
	if !r.Unapplied {
		r.Unapplied, r.UnappliedSince = true, s.now
		s.event(LevelWarn, "%s held %s: the router has not acknowledged this traffic everywhere (%s); the bake waits until it has",
			s.key, s.where(), s.obs.Unapplied)
		return true
	}
	if r.UnappliedSince.IsZero() {
		r.UnappliedSince = s.now // a hold persisted before its start was kept
	}
	if held := s.now.Sub(r.UnappliedSince); !r.UnappliedLong && held >= unappliedPatience(r.Plan) {
		r.UnappliedLong = true
		s.event(LevelError, "%s paused %s: the router has not acknowledged this traffic everywhere for %s (%s); the rollout stays at this step until every part of the router has it (a restore would not wait)",
			s.key, s.where(), held.Round(time.Second), s.obs.Unapplied)
	}
	return true
}
