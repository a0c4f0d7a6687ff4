package plan_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/switchyard-dev/switchyard/pkg/plan"
	"github.com/switchyard-dev/switchyard/pkg/policy"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// TestPoliciesSeeNotifyBlocks: a policy can judge the notify blocks
// (input.notify, keyed by name).
func TestPoliciesSeeNotifyBlocks(t *testing.T) {
	ctx := context.Background()
	fsys := fstest.MapFS{
		"rollouts/a.hcl": {Data: []byte(`
router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}
model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v1"
  version "v1" { url = "http://127.0.0.1:9101" }
}
notify "ops" {
  type = "webhook"
  url  = "https://hooks.example.com/switchyard"
}
`)},
		"policies/notify.rego": {Data: []byte(`package switchyard

deny contains msg if {
	some name, n in input.notify
	n.type == "webhook"
	not n.secret_env
	msg := sprintf("notify %q: a webhook must be signed (secret_env)", [name])
}
`)},
	}
	tree, diags := spec.Load(fsys, "rollouts")
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %+v", diags)
	}
	pols, err := policy.Load(ctx, fsys, "policies")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Make(ctx, nil, tree, nil, plan.Options{Policies: pols})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, d := range p.Diagnostics {
		found = found || strings.Contains(d.Summary+d.Detail, `notify "ops": a webhook must be signed`)
	}
	for _, c := range p.Changes {
		for _, d := range c.Findings {
			found = found || strings.Contains(d.Summary+d.Detail, `notify "ops": a webhook must be signed`)
		}
	}
	if !found {
		t.Errorf("the policy on input.notify did not deny: %+v", p)
	}
}
