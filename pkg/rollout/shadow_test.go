package rollout

import (
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

func shadowModel() *spec.Model {
	m := baseModel(AllAtOnce)
	m.Shadow = &spec.Shadow{Version: "v7", Percent: 100, Compare: "json", Tolerance: 0.001, MinAgreement: 0.98, MinSamples: 500}
	return m
}

func pairs(n, agree int64) Observations {
	return Observations{Versions: map[string]traffic.VersionStats{
		"v7": {Model: "fraud", Stage: "production", Version: "v7", ShadowPairs: n, ShadowAgreements: agree, ShadowErrors: 1},
	}}
}

func TestShadow(t *testing.T) {
	mirrors := func(t *testing.T, _ ModelState, rt traffic.Route, _ []Action) {
		want := traffic.Shadow{Version: "v7", Percent: 100, Compare: "json", Tolerance: 0.001}
		if rt.Shadow == nil || *rt.Shadow != want {
			t.Errorf("route shadow %+v, want %+v", rt.Shadow, want)
		}
	}
	tests := []struct {
		name  string
		edit  func(*spec.Model)
		ticks []tick
	}{
		{
			name: "assessment until min_samples, one passing verdict, nothing promoted",
			ticks: []tick{
				{at: 0, obs: none, phase: PhaseAssessing, weights: "v6:100", event: "shadow assessment of v7 started", check: mirrors},
				{at: 10, obs: pairs(200, 199), phase: PhaseAssessing, weights: "v6:100", check: mirrors},
				{at: 20, obs: pairs(200, 199), phase: PhaseAssessing, weights: "v6:100"},
				{at: 30, obs: pairs(200, 197), phase: PhaseIdle, weights: "v6:100", acts: "verdict:shadow:passed",
					event: "shadow assessment of v7 passed: agreement 0.9917",
					check: func(t *testing.T, st ModelState, rt traffic.Route, acts []Action) {
						mirrors(t, st, rt, acts)
						v := verdictOf(t, acts)
						p := v.Payload.(ShadowVerdict)
						if v.Commit != "c0" || p.Samples != 600 || p.Agreement != 595.0/600 || p.Lower <= 0.97 || p.Lower >= p.Agreement || p.Errors != 3 {
							t.Errorf("verdict %+v payload %+v", v, p)
						}
					}},
				{at: 40, obs: pairs(200, 100), phase: PhaseIdle, weights: "v6:100", check: mirrors},
			},
		},
		{
			name: "low agreement fails the assessment",
			ticks: []tick{
				{at: 0, obs: none, phase: PhaseAssessing},
				{at: 10, obs: pairs(300, 270)},
				{at: 20, obs: pairs(300, 270), phase: PhaseIdle, acts: "verdict:shadow:failed", event: "failed"},
			},
		},
		{
			name: "a changed shadow block starts a new assessment",
			ticks: []tick{
				{at: 0, obs: none},
				{at: 10, obs: pairs(600, 600), acts: "verdict:shadow:passed"},
				{at: 20, edit: func(m *spec.Model) { m.Shadow.Version = "v8" }, obs: none, phase: PhaseAssessing, event: "shadow assessment of v8 started"},
			},
		},
		{
			name: "no shadow of the live version itself",
			edit: func(m *spec.Model) { m.Shadow.Version = "v6" },
			ticks: []tick{{at: 0, obs: none, phase: PhaseIdle, check: func(t *testing.T, _ ModelState, rt traffic.Route, _ []Action) {
				if rt.Shadow != nil {
					t.Errorf("shadow of the live version: %+v", rt.Shadow)
				}
			}}},
		},
		{
			name: "removed before a verdict",
			ticks: []tick{
				{at: 0, obs: none},
				{at: 10, obs: pairs(100, 100), phase: PhaseAssessing},
				{at: 20, edit: func(m *spec.Model) { m.Shadow = nil }, obs: none, phase: PhaseIdle, event: "removed from the spec before a verdict (100 of 500 pairs)",
					check: func(t *testing.T, _ ModelState, rt traffic.Route, _ []Action) {
						if rt.Shadow != nil {
							t.Errorf("shadow still routed: %+v", rt.Shadow)
						}
					}},
			},
		},
		{
			name: "a shadow runs beside a rollout; the rollout's phase shows",
			edit: func(m *spec.Model) { m.Shadow.Version = "v8" },
			ticks: []tick{
				{at: 0, obs: none, phase: PhaseAssessing},
				{at: 5, serve: "v7", obs: none, phase: PhaseBaking, weights: "v6:0 v7:100"},
				{at: 15, obs: good, phase: PhaseBaking, check: func(t *testing.T, st ModelState, rt traffic.Route, _ []Action) {
					if rt.Shadow == nil || st.Shadow == nil {
						t.Errorf("shadow dropped during a rollout")
					}
				}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := shadowModel()
			if tc.edit != nil {
				tc.edit(m)
			}
			newScenario(m).play(t, tc.ticks)
		})
	}
}
