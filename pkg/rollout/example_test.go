package rollout_test

import (
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// A canary whose error rate fails at the first step: traffic goes back to
// v6 in the same Step that writes the rollback commit.
func ExampleStep() {
	max := 0.01
	m := &spec.Model{
		Name: "fraud", Stage: "production", Router: "edge", Path: "/v1/fraud", Serve: "v6",
		Versions: map[string]*spec.Version{"v6": {URL: "http://127.0.0.1:9106"}, "v7": {URL: "http://127.0.0.1:9107"}},
		Rollout:  &spec.Rollout{Strategy: "canary", Steps: []float64{10, 50}, Bake: time.Minute, Interval: 10 * time.Second},
		Checks:   []*spec.Check{{Name: "errors", Metric: "error_rate", Max: &max, MinRequests: 50}},
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	st, _, _ := rollout.Step(m, "a1", rollout.ModelState{}, rollout.Observations{}, now)

	m.Serve = "v7" // a merged PR
	st, route, _ := rollout.Step(m, "b2", st, rollout.Observations{}, now.Add(time.Second))
	fmt.Println(st.Phase, route.Weights)

	measured := rollout.Observations{Checks: map[string]analysis.Measurement{
		"errors": {Check: "errors", Version: "v7", Value: 0.08, Requests: 500},
	}}
	st, route, actions := rollout.Step(m, "b2", st, measured, now.Add(11*time.Second))
	fmt.Println(st.Phase, route.Weights)
	for _, a := range actions {
		if c, ok := a.(rollout.WriteCommit); ok {
			fmt.Printf("%s %s → %s: %s\n", c.Kind, c.From, c.To, c.Reason)
		}
	}
	// Output:
	// progressing [{v6 90} {v7 10}]
	// failed-held [{v6 100}]
	// rollback v7 → v6: check "errors" failed: error_rate 0.08 > max 0.01 (99% lower bound 0.05607 over 500 requests) at step 1 of 3 (10% traffic), 1 of 1 measurements
}
