package demo

import (
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/reconcile"
)

// The drift scene: v7 answers every request with a 200, as fast as v2,
// but its scores are shifted upward (a broken feature pipeline, say). No
// error or latency check can see it; the output_drift check does, and the
// canary is rolled back with a revert commit naming it.

// driftShift is how far v7's scores move (they are uniform on [0, 1)).
const driftShift = 0.3

// driftCheck is the check the drift scene adds to the spec, and its
// rollout: the usual steps, measured every 6 s, so that a window at 10%
// holds about 180 answers of v7 beside 1,600 of v2 (a 1 s window's 30
// cannot tell a PSI of 0.1 from noise: the check would give no data).
const (
	driftCheck = `
  check "drift" {
    metric = "output_drift"
    output = "/score"
    max    = 0.1
  }
`
	driftRollout = "    strategy      = \"canary\"\n    steps         = [10, 50]\n    bake          = \"30s\"\n    interval      = \"6s\"\n    failure_limit = 0\n"
)

func playDrift(s *show) error {
	if err := s.commit("Promote fraud v7", scene{Serve: "v7", Drift: true}); err != nil {
		return err
	}
	if _, err := s.wait("the v7 canary to start", func(m reconcile.ModelStatus, st reconcile.Status) bool { return m.Serve == "v7" }); err != nil {
		return err
	}
	m, err := s.wait("the v7 canary to fail", func(m reconcile.ModelStatus, st reconcile.Status) bool { return m.Held || m.Serve != "v7" })
	if err != nil {
		return err
	}
	for _, c := range m.Measurements {
		if c.Check == "drift" && strings.HasPrefix(c.Reason, "output_drift") {
			s.n.say("Every answer was a 200, but: %s", c.Reason)
		}
	}
	s.n.say("The drift check failed: traffic is back on v2 at once. The revert commit names it:")
	return s.reverted("v2")
}
