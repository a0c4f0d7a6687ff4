package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// In every scenario below v6 is adopted at t=0 and serve changes at t=5;
// measurements are due every 10s from then on (15, 25, 35, ...), and a
// 30s bake started at t=5 ends at t=35.

func TestStrategies(t *testing.T) {
	tests := []struct {
		name     string
		strategy string
		edit     func(*spec.Model)
		ticks    []tick
	}{
		{
			name: "first sight adopts serve without a rollout", strategy: AllAtOnce,
			ticks: []tick{
				{at: 0, obs: bad, phase: PhaseIdle, weights: "v6:100", event: "adopted: 100% on v6"},
				{at: 10, obs: bad, phase: PhaseIdle, weights: "v6:100"},
			},
		},
		{
			name: "all_at_once: 100% at once, bake with checks, succeeded", strategy: AllAtOnce,
			ticks: []tick{
				adopted,
				{at: 5, serve: "v7", obs: good, phase: PhaseBaking, weights: "v6:0 v7:100", event: "rolling out v7 (from v6) by all_at_once"},
				{at: 15, obs: good, phase: PhaseBaking, weights: "v6:0 v7:100"},
				{at: 25, obs: good, phase: PhaseBaking},
				{at: 35, obs: good, phase: PhaseSucceeded, weights: "v7:100", acts: "verdict:rollout:succeeded", event: "rollout of v7 succeeded"},
				{at: 45, obs: bad, phase: PhaseSucceeded, weights: "v7:100"},
			},
		},
		{
			name: "canary: each step with its bake, then 100% and a final bake", strategy: Canary,
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none, phase: PhaseProgressing, weights: "v6:75 v7:25"}},
				every(15, 25, good),
				[]tick{{at: 35, obs: good, phase: PhaseProgressing, weights: "v6:50 v7:50", event: "50% on v7 at step 2 of 3"}},
				every(45, 55, good),
				[]tick{{at: 65, obs: good, phase: PhaseBaking, weights: "v6:0 v7:100", event: "at step 3 of 3 (100% traffic)"}},
				every(75, 85, good),
				[]tick{{at: 95, obs: good, phase: PhaseSucceeded, weights: "v7:100", acts: "verdict:rollout:succeeded"}},
			),
		},
		{
			name: "blue_green: preview, switch, second bake, keep_previous, retire", strategy: BlueGreen,
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none, phase: PhasePreview, weights: "v6:100 v7:0",
					check: func(t *testing.T, _ ModelState, rt traffic.Route, _ []Action) {
						if rt.Preview == nil || *rt.Preview != (traffic.Preview{Header: "x-preview", Version: "v7"}) {
							t.Errorf("preview = %+v, want x-preview → v7", rt.Preview)
						}
					}}},
				every(15, 25, good),
				[]tick{{at: 35, obs: good, phase: PhaseSwitched, weights: "v6:0 v7:100", event: "switched: 100% on v7, v6 kept at weight 0",
					check: func(t *testing.T, _ ModelState, rt traffic.Route, _ []Action) {
						if rt.Preview != nil {
							t.Errorf("preview still set after the switch: %+v", rt.Preview)
						}
					}}},
				every(45, 55, good),
				// keep_previous (1m) counts from the switch at t=35.
				[]tick{{at: 65, obs: good, phase: PhaseSucceeded, weights: "v7:100 v6:0", acts: "verdict:rollout:succeeded", event: "v6 kept at weight 0"}},
				[]tick{{at: 85, obs: none, phase: PhaseSucceeded, weights: "v7:100 v6:0"}},
				[]tick{{at: 95, obs: none, phase: PhaseSucceeded, weights: "v7:100", event: "v6 retired"}},
			),
		},
		{
			name: "blue_green: serve back within keep_previous switches back at once", strategy: BlueGreen,
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none}},
				every(15, 55, good),
				[]tick{{at: 65, obs: good, phase: PhaseSucceeded, weights: "v7:100 v6:0", acts: "verdict:rollout:succeeded"}},
				[]tick{{at: 70, serve: "v6", obs: none, phase: PhaseIdle, weights: "v6:100", event: "switched back to v6 at once"}},
			),
		},
		{
			name: "no checks: bakes, then succeeds without data", strategy: AllAtOnce,
			edit: func(m *spec.Model) { m.Checks = nil },
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none, phase: PhaseBaking}},
				every(15, 25, none),
				[]tick{{at: 35, obs: none, phase: PhaseSucceeded, weights: "v7:100", acts: "verdict:rollout:succeeded"}},
			),
		},
		{
			name: "a revert after success is a new rollout", strategy: AllAtOnce,
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none}},
				every(15, 25, good),
				[]tick{{at: 35, obs: good, phase: PhaseSucceeded, acts: "verdict:rollout:succeeded"}},
				[]tick{{at: 40, serve: "v6", obs: none, phase: PhaseBaking, weights: "v7:0 v6:100", event: "rolling out v6 (from v7)"}},
			),
		},
		{
			name: "a version's ca_file travels in the route", strategy: AllAtOnce,
			ticks: []tick{adopted,
				{at: 5, serve: "v7", edit: func(m *spec.Model) {
					v := *m.Versions["v7"]
					v.URL, v.CAFile = "https://127.0.0.1:9107", "/tls/models-ca.pem"
					m.Versions["v7"] = &v
				}, obs: none,
					check: func(t *testing.T, _ ModelState, rt traffic.Route, _ []Action) {
						if rt.CAFiles["v7"] != "/tls/models-ca.pem" || len(rt.CAFiles) != 1 {
							t.Errorf("ca_files = %v, want only v7's", rt.CAFiles)
						}
					}},
			},
		},
		{
			name: "serve naming no version changes nothing", strategy: AllAtOnce,
			ticks: []tick{adopted,
				{at: 5, serve: "v9", obs: none, phase: PhaseIdle, weights: "v6:100", event: `serve = "v9" is not a version`},
				{at: 15, obs: none, phase: PhaseIdle, weights: "v6:100"},
			},
		},
		{
			name: "a version removed from the spec keeps its backend while weighted", strategy: Canary,
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none}},
				every(15, 85, good),
				[]tick{{at: 95, obs: good, phase: PhaseSucceeded, weights: "v7:100", acts: "verdict:rollout:succeeded"}},
				[]tick{{at: 100, serve: "v8", edit: func(m *spec.Model) { delete(m.Versions, "v7") }, obs: none,
					phase: PhaseProgressing, weights: "v7:75 v8:25",
					check: func(t *testing.T, _ ModelState, rt traffic.Route, _ []Action) {
						if rt.Backends["v7"] != "http://127.0.0.1:9107" {
							t.Errorf("v7 backend = %q, want its remembered URL", rt.Backends["v7"])
						}
					}}},
			),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := baseModel(tc.strategy)
			if tc.edit != nil {
				tc.edit(m)
			}
			newScenario(m).play(t, tc.ticks)
		})
	}
}

func TestFailurePaths(t *testing.T) {
	reasonIs := func(want ...string) func(*testing.T, ModelState, traffic.Route, []Action) {
		return func(t *testing.T, _ ModelState, _ traffic.Route, acts []Action) {
			c := commitOf(t, acts)
			for _, w := range want {
				if !strings.Contains(c.Reason, w) {
					t.Errorf("reason %q does not contain %q", c.Reason, w)
				}
			}
		}
	}
	tests := []struct {
		name     string
		strategy string
		edit     func(*spec.Model)
		ticks    []tick
	}{
		{
			name: "rollback: traffic to the previous version at once, then the revert commit", strategy: Canary,
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none}},
				every(15, 35, good),
				[]tick{{at: 45, obs: bad, phase: PhaseFailedHeld, weights: "v6:100",
					acts:  "verdict:rollout:rolled_back commit:rollback(v7>v6)",
					event: "fraud/production rolled back from v7 to v6: check \"errors\" failed",
					check: func(t *testing.T, st ModelState, _ traffic.Route, acts []Action) {
						c := commitOf(t, acts)
						if c.RevertsServeOf != "v7" || c.Commit != "c1" || c.Model != "fraud" || c.Stage != "production" {
							t.Errorf("commit = %+v", c)
						}
						want := `check "errors" failed: error_rate 0.2 > max 0.01 (99% lower bound`
						if !strings.HasPrefix(c.Reason, want) || !strings.HasSuffix(c.Reason, "at step 2 of 3 (50% traffic), 1 of 4 measurements") {
							t.Errorf("reason = %q", c.Reason)
						}
						if c.Facts["step"] != "2" || c.Facts["traffic"] != "50" || c.Facts["value"] != "0.2" {
							t.Errorf("facts = %v", c.Facts)
						}
						if st.Held == nil || st.Awaiting == nil || st.Awaiting.Kind != CommitRollback || st.Awaiting.Reason != c.Reason {
							t.Errorf("held = %+v, awaiting %+v: the commit must be kept for retries", st.Held, st.Awaiting)
						}
					}}},
				// Held: the spec still says v7, measurements are ignored, v7 is not re-rolled.
				[]tick{{at: 55, obs: bad, phase: PhaseFailedHeld, weights: "v6:100", check: awaiting(CommitRollback)}},
				[]tick{{at: 65, edit: func(m *spec.Model) { m.Path = "/v1/fraud" }, obs: good, phase: PhaseFailedHeld, weights: "v6:100"}},
				// Git agrees: our revert landed.
				[]tick{{at: 75, serve: "v6", obs: none, phase: PhaseIdle, weights: "v6:100", event: "Git now says serve = v6, as live traffic does", check: awaiting("")}},
			),
		},
		{
			name: "failure_limit: failures tolerated up to the limit, then on_failure", strategy: AllAtOnce,
			edit: func(m *spec.Model) { m.Rollout.FailureLimit = 2 },
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none},
				{at: 15, obs: bad, phase: PhaseBaking},
				{at: 25, obs: bad, phase: PhaseBaking},
				{at: 35, obs: bad, phase: PhaseFailedHeld, weights: "v6:100", acts: "verdict:rollout:rolled_back commit:rollback(v7>v6)",
					check: reasonIs("at step 1 of 1 (100% traffic), 3 of 3 measurements")},
			},
		},
		{
			name: "failure_limit: tolerated failures do not stop the rollout", strategy: AllAtOnce,
			edit: func(m *spec.Model) { m.Rollout.FailureLimit = 2 },
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none},
				{at: 15, obs: bad}, {at: 25, obs: bad},
				{at: 35, obs: good, phase: PhaseSucceeded, weights: "v7:100", acts: "verdict:rollout:succeeded"},
			},
		},
		{
			name: "blue_green fails in preview: live traffic never left v6", strategy: BlueGreen,
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none, phase: PhasePreview},
				{at: 15, obs: bad, phase: PhaseFailedHeld, weights: "v6:100", acts: "verdict:rollout:rolled_back commit:rollback(v7>v6)",
					check: reasonIs("during preview (preview-header traffic only), 1 of 1 measurements")},
			},
		},
		{
			name: "blue_green fails after the switch: instant switch back", strategy: BlueGreen,
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none}},
				every(15, 35, good),
				[]tick{{at: 45, obs: bad, phase: PhaseFailedHeld, weights: "v6:100", acts: "verdict:rollout:rolled_back commit:rollback(v7>v6)",
					check: reasonIs("after the switch (100% traffic)")}},
			),
		},
		{
			name: "fallback: all traffic to the heuristic, commit sets serve to it", strategy: Canary,
			edit: func(m *spec.Model) { m.Rollout.OnFailure, m.Rollout.Fallback = "fallback", "rules" },
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none},
				{at: 15, obs: bad, phase: PhaseFailedHeld, weights: "rules:100", acts: "verdict:rollout:fell_back commit:fallback(v7>rules)",
					event: "fell back from v7 to rules"},
				{at: 25, obs: none, phase: PhaseFailedHeld, weights: "rules:100"},
				{at: 35, serve: "rules", obs: none, phase: PhaseIdle, weights: "rules:100", event: "Git now says serve"},
				{at: 45, serve: "v8", obs: none, phase: PhaseProgressing, weights: "rules:75 v8:25", event: "rolling out v8 (from rules)"},
			},
		},
		{
			name: "fallback to a non-heuristic rolls back instead", strategy: AllAtOnce,
			edit: func(m *spec.Model) { m.Rollout.OnFailure, m.Rollout.Fallback = "fallback", "v8" },
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none},
				{at: 15, obs: bad, phase: PhaseFailedHeld, weights: "v6:100", acts: "verdict:rollout:rolled_back commit:rollback(v7>v6)",
					event: `fallback "v8" is not a heuristic`},
			},
		},
		{
			name: "roll_through: traffic back to v6 at once, commit sets serve to v8, whose rollout follows", strategy: Canary,
			edit: func(m *spec.Model) { m.Rollout.OnFailure, m.Rollout.RollThrough = "roll_through", "v8" },
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none},
				{at: 15, obs: bad, phase: PhaseFailedHeld, weights: "v6:100", acts: "verdict:rollout:rolled_through commit:roll_through(v7>v8)"},
				{at: 25, obs: bad, phase: PhaseFailedHeld, weights: "v6:100", check: awaiting(CommitRollThrough)},
				{at: 35, serve: "v8", obs: none, phase: PhaseProgressing, weights: "v6:75 v8:25", event: "rolling out v8 (from v6)", check: awaiting("")},
			},
		},
		{
			name: "roll_through: the rolled-through version is judged by the same checks, and rolls back when it fails too", strategy: Canary,
			edit: func(m *spec.Model) { m.Rollout.OnFailure, m.Rollout.RollThrough = "roll_through", "v8" },
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none},
				{at: 15, obs: bad, phase: PhaseFailedHeld, weights: "v6:100", acts: "verdict:rollout:rolled_through commit:roll_through(v7>v8)"},
				// The reconciler's commit, as gitops writes it: serve = v8,
				// roll_through and on_failure = "roll_through" removed.
				{at: 25, serve: "v8", edit: func(m *spec.Model) { m.Rollout.OnFailure, m.Rollout.RollThrough = "", "" },
					obs: none, phase: PhaseProgressing, weights: "v6:75 v8:25", event: "by canary", check: awaiting("")},
				{at: 35, obs: bad, phase: PhaseFailedHeld, weights: "v6:100", acts: "verdict:rollout:rolled_back commit:rollback(v8>v6)"},
			},
		},
		{
			name: "roll_through to the failing version itself rolls back", strategy: AllAtOnce,
			edit: func(m *spec.Model) { m.Rollout.OnFailure, m.Rollout.RollThrough = "roll_through", "v7" },
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none},
				{at: 15, obs: bad, acts: "verdict:rollout:rolled_back commit:rollback(v7>v6)", event: `roll_through "v7" is not another version`},
			},
		},
		{
			name: "held released by a human's new intent", strategy: AllAtOnce,
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none},
				{at: 15, obs: bad, phase: PhaseFailedHeld, acts: "verdict:rollout:rolled_back commit:rollback(v7>v6)"},
				{at: 25, serve: "v8", obs: none, phase: PhaseBaking, weights: "v6:0 v8:100", event: "Git now says serve = v8 (a new intent, not the failed v7)", check: awaiting("")},
			},
		},
		{
			name: "no data for a whole bake pauses, data resumes with a fresh bake", strategy: AllAtOnce,
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none},
				{at: 15, obs: none, phase: PhaseBaking}, {at: 25, obs: quiet, phase: PhaseBaking},
				{at: 35, obs: none, phase: PhasePaused, weights: "v6:0 v7:100",
					event: `paused at step 1 of 1 (100% traffic): no data for a whole bake (30s) from check "errors" (no measurement in the window); not promoting v7 blind`},
				{at: 45, obs: quiet, phase: PhasePaused, weights: "v6:0 v7:100"},
				{at: 55, obs: good, phase: PhaseBaking, weights: "v6:0 v7:100", event: "resumed"},
				{at: 65, obs: good, phase: PhaseBaking}, {at: 75, obs: good, phase: PhaseBaking},
				{at: 85, obs: good, phase: PhaseSucceeded, weights: "v7:100", acts: "verdict:rollout:succeeded"},
			},
		},
		{
			name: "blue_green preview without data: the pause says to send smoke tests with the header", strategy: BlueGreen,
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none, phase: PhasePreview},
				{at: 15, obs: none, phase: PhasePreview}, {at: 25, obs: none, phase: PhasePreview},
				{at: 35, obs: none, phase: PhasePaused, weights: "v6:100 v7:0",
					event: `during the preview only requests with the header "x-preview" reach v7, so send your smoke tests with it (curl -H 'x-preview: 1' ... on /v1/fraud)`},
			},
		},
		{
			name: "blue_green preview_mirror: live requests are copied to green during the preview only", strategy: BlueGreen,
			edit: func(m *spec.Model) { m.Rollout.PreviewMirror = 25 },
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none, phase: PhasePreview, weights: "v6:100 v7:0", event: "25% of live requests mirrored", check: mirroring("v7", 25)},
				{at: 15, obs: good, phase: PhasePreview, check: mirroring("v7", 25)},
				{at: 25, obs: good, phase: PhasePreview, check: mirroring("v7", 25)},
				{at: 35, obs: good, phase: PhaseSwitched, weights: "v6:0 v7:100", check: mirroring("", 0)},
			},
		},
		{
			name: "blue_green preview_mirror without data: the pause names the mirror and the header", strategy: BlueGreen,
			edit: func(m *spec.Model) { m.Rollout.PreviewMirror = 10 },
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none, phase: PhasePreview},
				{at: 15, obs: none, phase: PhasePreview}, {at: 25, obs: none, phase: PhasePreview},
				{at: 35, obs: none, phase: PhasePaused, weights: "v6:100 v7:0", check: mirroring("v7", 10),
					event: `10% of live requests on /v1/fraud are copied to v7 (preview_mirror) and requests with the header "x-preview" reach it; if there is no live traffic to copy`},
				// A failure of the mirrored copies rolls back; clients never saw v7.
				{at: 45, obs: bad, phase: PhaseFailedHeld, weights: "v6:100", acts: "verdict:rollout:rolled_back commit:rollback(v7>v6)", check: mirroring("", 0)},
			},
		},
		{
			name: "blue_green with preview_header = \"\" and no mirror has no preview traffic: it switches at once", strategy: BlueGreen,
			edit: func(m *spec.Model) { m.Rollout.PreviewHeader = "" },
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none, phase: PhaseSwitched, weights: "v6:0 v7:100", event: `no preview (preview_header = ""), switch at once`,
					check: func(t *testing.T, _ ModelState, rt traffic.Route, _ []Action) {
						if rt.Preview != nil {
							t.Errorf("preview %+v with preview_header = \"\"", rt.Preview)
						}
					}},
				{at: 15, obs: good, phase: PhaseSwitched}, {at: 25, obs: good, phase: PhaseSwitched},
				{at: 35, obs: good, phase: PhaseSucceeded, weights: "v7:100 v6:0", acts: "verdict:rollout:succeeded"},
			},
		},
		{
			name: "blue_green with preview_mirror and no preview header: the copies are the preview", strategy: BlueGreen,
			edit: func(m *spec.Model) { m.Rollout.PreviewHeader, m.Rollout.PreviewMirror = "", 30 },
			ticks: []tick{adopted,
				{at: 5, serve: "v7", obs: none, phase: PhasePreview, weights: "v6:100 v7:0", event: "preview (30% of live requests mirrored)",
					check: func(t *testing.T, st ModelState, rt traffic.Route, acts []Action) {
						mirroring("v7", 30)(t, st, rt, acts)
						if rt.Preview != nil {
							t.Errorf("preview %+v with preview_header = \"\"", rt.Preview)
						}
					}},
				{at: 15, obs: none, phase: PhasePreview}, {at: 25, obs: none, phase: PhasePreview},
				{at: 35, obs: none, phase: PhasePaused, event: "are copied to v7 (preview_mirror) and nothing else reaches it"},
			},
		},
		{
			name: "under min_requests is no data: the pause says so", strategy: Canary,
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none}},
				every(15, 25, quiet),
				[]tick{{at: 35, obs: quiet, phase: PhasePaused, weights: "v6:75 v7:25", event: "10 requests < min_requests 50"}},
				// A failure while paused still rolls back.
				[]tick{{at: 45, obs: bad, phase: PhaseFailedHeld, weights: "v6:100", acts: "verdict:rollout:rolled_back commit:rollback(v7>v6)"}},
			),
		},
		{
			name: "a check without data pauses even when others have data", strategy: AllAtOnce,
			edit: func(m *spec.Model) {
				m.Checks = append(m.Checks, &spec.Check{Name: "business", Source: "prom", Query: "q", Max: f(0.5)})
			},
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none}},
				every(15, 25, good),
				[]tick{{at: 35, obs: good, phase: PhasePaused, event: `from check "business"`,
					check: func(t *testing.T, _ ModelState, _ traffic.Route, acts []Action) {
						if hasEvent(acts, `check "errors"`) {
							t.Errorf("pause names a check that had data: %v", events(acts))
						}
					}}},
			),
		},
		{
			name: "a new serve mid-rollout supersedes: new rollout from the stable version", strategy: Canary,
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none}},
				every(15, 35, good),
				[]tick{{at: 40, serve: "v8", obs: none, phase: PhaseProgressing, weights: "v6:75 v8:25", acts: "verdict:rollout:superseded",
					check: func(t *testing.T, st ModelState, _ traffic.Route, _ []Action) {
						if r := st.Rollout; r == nil || r.From != "v6" || r.To != "v8" || r.Step != 0 || r.Commit != "c2" || len(r.Failures) != 0 {
							t.Errorf("rollout = %+v, want a fresh v6 → v8", st.Rollout)
						}
					}}},
				every(50, 60, good),
				[]tick{{at: 70, obs: good, phase: PhaseProgressing, weights: "v6:50 v8:50"}},
			),
		},
		{
			name: "superseded after a blue_green switch: the new version starts from the stable one in preview", strategy: BlueGreen,
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none}},
				every(15, 35, good),
				[]tick{{at: 36, obs: none, phase: PhaseSwitched, weights: "v6:0 v7:100"}},
				[]tick{{at: 40, serve: "v8", obs: none, phase: PhasePreview, weights: "v6:100 v8:0", acts: "verdict:rollout:superseded",
					check: func(t *testing.T, _ ModelState, rt traffic.Route, _ []Action) {
						if rt.Preview == nil || rt.Preview.Version != "v8" {
							t.Errorf("preview %+v, want v8", rt.Preview)
						}
					}}},
			),
		},
		{
			name: "a revert mid-rollout aborts at once: no commit, no waiting on checks", strategy: Canary,
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none}},
				every(15, 35, good),
				[]tick{{at: 38, serve: "v6", obs: bad, phase: PhaseIdle, weights: "v6:100", acts: "verdict:rollout:aborted", event: "aborted"}},
				[]tick{{at: 48, obs: bad, phase: PhaseIdle, weights: "v6:100"}},
			),
		},
		{
			name: "a revert while paused aborts too", strategy: AllAtOnce,
			ticks: concat(
				[]tick{adopted, {at: 5, serve: "v7", obs: none}},
				every(15, 35, none),
				[]tick{{at: 40, serve: "v6", obs: none, phase: PhaseIdle, weights: "v6:100", acts: "verdict:rollout:aborted"}},
			),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := baseModel(tc.strategy)
			if tc.edit != nil {
				tc.edit(m)
			}
			newScenario(m).play(t, tc.ticks)
		})
	}
}

// awaiting checks the commit the state remembers until Git agrees.
// mirroring checks the route copies percent of live requests to version
// for the preview's checks ("": copies nothing).
func mirroring(version string, percent float64) func(*testing.T, ModelState, traffic.Route, []Action) {
	return func(t *testing.T, st ModelState, rt traffic.Route, _ []Action) {
		t.Helper()
		got, _ := st.Mirrored()
		switch {
		case version == "" && (rt.Shadow != nil || got != ""):
			t.Errorf("route shadow %+v, state mirrors %q; want no mirror", rt.Shadow, got)
		case version != "" && (rt.Shadow == nil || rt.Shadow.Version != version || rt.Shadow.Percent != percent || got != version):
			t.Errorf("route shadow %+v, state mirrors %q; want %g%% copied to %s", rt.Shadow, got, percent, version)
		}
	}
}

func awaiting(kind CommitKind) func(*testing.T, ModelState, traffic.Route, []Action) {
	return func(t *testing.T, st ModelState, _ traffic.Route, _ []Action) {
		t.Helper()
		switch {
		case kind == "" && st.Awaiting != nil:
			t.Errorf("still awaiting %+v", st.Awaiting)
		case kind != "" && (st.Awaiting == nil || st.Awaiting.Kind != kind):
			t.Errorf("awaiting %+v, want a %s commit", st.Awaiting, kind)
		}
	}
}

func TestExtraStepsNeverCountAWindowTwice(t *testing.T) {
	m := baseModel(AllAtOnce)
	m.Rollout.FailureLimit = 1
	sc := newScenario(m)
	// One bad window, then the same Step repeated (a webhook, a retry):
	// it must not count as a second failed measurement.
	sc.play(t, []tick{adopted,
		{at: 5, serve: "v7", obs: none},
		{at: 15, obs: bad, phase: PhaseBaking},
		{at: 15, obs: bad, phase: PhaseBaking},
		{at: 18, obs: bad, phase: PhaseBaking},
	})
	if n := sc.st.Rollout.Failures["errors"]; n != 1 {
		t.Fatalf("failures = %d, want 1", n)
	}
}

func TestNextWake(t *testing.T) {
	m := baseModel(BlueGreen)
	sc := newScenario(m)
	sc.play(t, []tick{adopted})
	if w := sc.st.NextWake(); !w.IsZero() {
		t.Errorf("idle model wakes at %v, want nothing scheduled", w)
	}
	sc.play(t, []tick{{at: 5, serve: "v7", obs: none}})
	if v, base, ok := sc.st.Measuring(); !ok || v != "v7" || base != "v6" {
		t.Errorf("measuring %q against %q (%v), want v7 against v6", v, base, ok)
	}
	if w := NextWake(State{Models: map[string]ModelState{"a": sc.st}}); !w.Equal(at(15)) {
		t.Errorf("next wake %v, want the next measurement at t=15", w)
	}
	m.Rollout.Interval = time.Minute
	sc.play(t, []tick{{at: 6, obs: none}})
	if w := sc.st.NextWake(); !w.Equal(at(35)) {
		t.Errorf("next wake %v, want the end of the bake at t=35", w)
	}
}
