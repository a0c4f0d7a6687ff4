package rollout

// awaitTraffic holds the current step while the router has not
// acknowledged its traffic everywhere (obs.Unapplied): the step's bake
// restarts at every Step that sees it so, and so counts from the last one
// (after which the daemon sends the route again), so that a step never
// advances on a bake spent partly on the old traffic. Measurements still
// count (a failing check still restores, which never waits). It reports
// whether the step is held.
func (s *stepper) awaitTraffic() bool {
	r := s.st.Rollout
	if s.obs.Unapplied == "" {
		if r.Unapplied {
			r.Unapplied = false
			s.event(LevelInfo, "%s: every part of the router has the traffic %s; the bake of %s starts", s.key, s.where(), r.Plan.Bake)
		}
		return false
	}
	r.StepStartedAt, r.Seen = s.now, nil
	if !r.Unapplied {
		r.Unapplied = true
		s.event(LevelWarn, "%s held %s: the router has not acknowledged this traffic everywhere (%s); the bake waits until it has",
			s.key, s.where(), s.obs.Unapplied)
	}
	return true
}
