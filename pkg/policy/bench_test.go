package policy_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/policy"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// genTree is the tree of bench/validate/gen.sh: n models, one file each;
// a third in staging, every 100th with a canary starting at 20% (denied),
// every 50th on plain http (warned), every 5th with a shadow.
func genTree(n int) fstest.MapFS {
	fsys := fstest.MapFS{"rollouts/routers.hcl": {Data: []byte(
		"router \"edge\" {\n  type   = \"builtin\"\n  listen = \"127.0.0.1:8080\"\n}\n")}}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("m%04d", i)
		stage, first, scheme, shadow := "production", 5, "https", ""
		if i%3 == 2 {
			stage = "staging"
		}
		if i%100 == 99 {
			first = 20
		}
		if i%50 == 7 {
			scheme = "http"
		}
		if i%5 == 0 {
			shadow = "\n  shadow {\n    version       = \"v1\"\n    percent       = 100\n    compare       = \"json\"\n    tolerance     = 0.001\n    min_agreement = 0.98\n    min_samples   = 500\n  }\n"
		}
		src := fmt.Sprintf(`model %[1]q %[2]q {
  router = "edge"
  path   = "/v1/%[1]s"
  serve  = "v2"

  version "v1" { url = "%[3]s://%[1]s-v1.internal" }
  version "v2" { url = "%[3]s://%[1]s-v2.internal" }
  version "rules" {
    url       = "%[3]s://%[1]s-rules.internal"
    heuristic = true
  }

  rollout {
    strategy   = "canary"
    steps      = [%[4]d, 25, 50]
    bake       = "1m"
    interval   = "10s"
    on_failure = "fallback"
    fallback   = "rules"
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.01
    min_requests = 50
  }
  check "latency" {
    metric    = "latency_p99"
    max_ratio = 1.2
  }
%[5]s}
`, name, stage, scheme, first, shadow)
		fsys["rollouts/models/"+name+".hcl"] = &fstest.MapFile{Data: []byte(src)}
	}
	return fsys
}

func loadDefault(b *testing.B) *policy.Set {
	b.Helper()
	pols, err := policy.Load(context.Background(), os.DirFS("../.."), "policies",
		policy.WithClock(func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) }))
	if err != nil {
		b.Fatal(err)
	}
	return pols
}

// BenchmarkValidate1000 is what `reconciler validate` does for 1,000
// models: load and validate the specs, load and prepare the default
// policies, evaluate them, map the findings to source.
func BenchmarkValidate1000(b *testing.B) {
	fsys := genTree(1000)
	ctx := context.Background()
	for b.Loop() {
		tree, diags := spec.Load(fsys, "rollouts")
		if diag.HasErrors(diags) {
			b.Fatalf("spec errors: %v", diags[0])
		}
		pols := loadDefault(b)
		fs, err := pols.Evaluate(ctx, policy.Input{Models: tree.PolicyModels(), Routers: tree.PolicyRouters()})
		if err != nil {
			b.Fatal(err)
		}
		if ds := policy.Diagnostics(fs, tree); !diag.HasErrors(ds) {
			b.Fatalf("got %d findings, want the 10 denials of canaries starting at 20%%", len(ds))
		}
	}
}

// BenchmarkEvaluate1000 is one evaluation of prepared policies over 1,000
// models, as the reconciler does on every new commit.
func BenchmarkEvaluate1000(b *testing.B) {
	tree, diags := spec.Load(genTree(1000), "rollouts")
	if diag.HasErrors(diags) {
		b.Fatalf("spec errors: %v", diags[0])
	}
	pols := loadDefault(b)
	in := policy.Input{Models: tree.PolicyModels(), Routers: tree.PolicyRouters()}
	ctx := context.Background()
	for b.Loop() {
		if _, err := pols.Evaluate(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadPolicies is loading, compiling and preparing the default
// policies.
func BenchmarkLoadPolicies(b *testing.B) {
	for b.Loop() {
		loadDefault(b)
	}
}
