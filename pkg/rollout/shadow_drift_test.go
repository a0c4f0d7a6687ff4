package rollout

import (
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// pairsWithOutputs is pairs with the shadow's (v7) and the live version's
// (v6) scores: n each, the shadow's shifted by shift.
func pairsWithOutputs(n, agree int64, shift float64) Observations {
	obs := pairs(n, agree)
	var sh, live behaviour.Sketch
	for i := range n {
		x := float64(i%100) / 100
		sh.AddNumber(x + shift)
		live.AddNumber(x)
	}
	v7 := obs.Versions["v7"]
	v7.Outputs = map[string]behaviour.Sketch{"/score": sh}
	obs.Versions["v7"] = v7
	obs.Versions["v6"] = traffic.VersionStats{Model: "fraud", Stage: "production", Version: "v6", Requests: n,
		Outputs: map[string]behaviour.Sketch{"/score": live}}
	return obs
}

func TestShadowVerdictReportsOutputDrift(t *testing.T) {
	m := shadowModel()
	newScenario(m).play(t, []tick{
		{at: 0, obs: none, phase: PhaseAssessing},
		{at: 10, obs: pairsWithOutputs(300, 300, 0.3)},
		{at: 20, obs: pairsWithOutputs(300, 300, 0.3), phase: PhaseIdle, acts: "verdict:shadow:passed",
			event: "output /score PSI",
			check: func(t *testing.T, st ModelState, _ traffic.Route, acts []Action) {
				p := verdictOf(t, acts).Payload.(ShadowVerdict)
				d, ok := p.Drift["/score"]
				if !ok || d.N != 600 || d.M != 600 || d.PSI < 0.5 || d.Lower <= 0 || d.Lower > d.PSI {
					t.Errorf("drift %+v in verdict %+v", d, p)
				}
			}},
	})
}
