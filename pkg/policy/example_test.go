package policy_test

import (
	"context"
	"fmt"
	"testing/fstest"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/policy"
)

// Load policies once, then evaluate them for each input.
func ExampleSet_Evaluate() {
	fsys := fstest.MapFS{"policies/canary.rego": {Data: []byte(`package switchyard

deny contains {"msg": "a production canary starts at 10% or less", "model": m.name, "stage": m.stage, "field": "rollout.steps", "rule": "canary_first_step"} if {
	some m in input.models
	m.stage == "production"
	m.rollout.steps[0] > 10
}
`)}}
	ctx := context.Background()
	set, err := policy.Load(ctx, fsys, "policies")
	if err != nil {
		fmt.Println(err)
		return
	}
	in := policy.Input{
		Models: []map[string]any{
			{"name": "fraud", "stage": "production", "rollout": map[string]any{"steps": []any{25, 50}}},
			{"name": "churn", "stage": "production", "rollout": map[string]any{"steps": []any{5, 50}}},
		},
		Context: policy.Context{Event: "pull_request", Now: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)},
	}
	findings, err := set.Evaluate(ctx, in)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range findings {
		fmt.Printf("%s %s/%s %s: %s (%s)\n", f.Severity, f.Model, f.Stage, f.Field, f.Msg, f.RuleName())
	}
	// Output:
	// error fraud/production rollout.steps: a production canary starts at 10% or less (canary_first_step)
}
