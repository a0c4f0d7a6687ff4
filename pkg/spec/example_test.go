package spec_test

import (
	"fmt"
	"os"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Load a tree from memory and print its diagnostics the way
// `reconciler validate` does.
func ExampleLoadFiles() {
	tree, diags := spec.LoadFiles(map[string][]byte{
		"rollouts/fraud.hcl": []byte(`router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }

  rollout {
    strategy = "canary"
    steps    = [5, 50, 25]
  }
}
`),
	}, "rollouts")
	_ = diag.WriteText(os.Stdout, diags, tree.Sources)
	fmt.Println("errors:", diag.HasErrors(diags))
	// Output:
	// Error: Canary steps not increasing
	//
	//   on rollouts/fraud.hcl line 15, in model "fraud" "production":
	//    15:     steps    = [5, 50, 25]
	//                               ^^
	//
	// Step 3 (25%) is not above step 2 (50%). Each step must send more traffic than the one before.
	//
	// errors: true
}

// Find the line a policy finding about a field should be reported at.
func ExampleTree_FieldRange() {
	tree, _ := spec.LoadDir("../../testdata/specs/fraud", "rollouts")
	r, _ := tree.FieldRange("fraud/production", "rollout.steps")
	fmt.Println(r.Filename, r.Start.Line)
	r, _ = tree.FieldRange("fraud/production", "rollout.preview_header") // not written: its block
	fmt.Println(r.Filename, r.Start.Line)
	// Output:
	// rollouts/fraud.hcl 43
	// rollouts/fraud.hcl 41
}
