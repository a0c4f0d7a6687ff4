package demo

import (
	"fmt"
	"strings"
)

// scene is one spec the demo user commits.
type scene struct {
	Serve string
	// Strategy is the rollout's ("canary" when empty).
	Strategy string
	// OnFailure with its target: "fallback" to rules, or "roll_through"
	// to RollThrough; empty: rollback.
	OnFailure   string
	RollThrough string
	// Shadow runs v1 beside the live version.
	Shadow bool
	// Experiment is "ab" (v1 against v2) or "bandit" (v4 against v5).
	Experiment string
	// Drift adds the output_drift check and its rollout (drift.go).
	Drift bool
}

// demoVersions are the example models, in the order the spec lists them.
var demoVersions = []string{"v1", "v2", "v3", "v4", "v5", "v6", "v7"}

// specText is the demo's rollouts/fraud.hcl for one scene.
func specText(routerAddr string, urls map[string]string, s scene) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# The demo's fraud model. Change serve in a commit to promote.
router "edge" {
  type   = "builtin"
  listen = %q
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = %q

`, routerAddr, s.Serve)
	for _, v := range demoVersions {
		fmt.Fprintf(&b, "  version %q { url = %q }\n", v, urls[v])
	}
	fmt.Fprintf(&b, `  version "rules" {
    url       = %q
    heuristic = true
  }

  rollout {
`, urls["rules"])
	switch {
	case s.Drift:
		b.WriteString(driftRollout)
	case s.Strategy == "blue_green":
		b.WriteString("    strategy       = \"blue_green\"\n    preview_mirror = 20\n    keep_previous  = \"1m\"\n")
	case s.Strategy == "all_at_once":
		b.WriteString("    strategy      = \"all_at_once\"\n")
	default:
		b.WriteString("    strategy      = \"canary\"\n    steps         = [10, 50]\n")
	}
	if !s.Drift {
		b.WriteString("    bake          = \"2s\"\n    interval      = \"1s\"\n    failure_limit = 1\n")
	}
	switch s.OnFailure {
	case "fallback":
		b.WriteString("    on_failure    = \"fallback\"\n    fallback      = \"rules\"\n")
	case "roll_through":
		fmt.Fprintf(&b, "    on_failure    = \"roll_through\"\n    roll_through  = %q\n", s.RollThrough)
	default:
		b.WriteString("    on_failure    = \"rollback\"\n")
	}
	b.WriteString(`  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.05
    min_requests = 20
  }

  check "latency" {
    metric       = "latency_p99"
    max          = 0.5
    min_requests = 20
  }
`)
	if s.Drift {
		b.WriteString(driftCheck)
	}
	if s.Shadow {
		b.WriteString(`
  shadow {
    version       = "v1"
    percent       = 100
    compare       = "json"
    tolerance     = 0.001
    min_agreement = 0.9
    min_samples   = 500
  }
`)
	}
	switch s.Experiment {
	case "ab":
		b.WriteString(`
  experiment {
    method       = "ab"
    variants     = { v1 = 50, v2 = 50 }
    sticky       = "header:x-user-id"
    reward       = "feedback"
    alpha        = 0.05
    min_samples  = 300
    auto_promote = true
  }
`)
	case "bandit":
		b.WriteString(`
  experiment {
    method        = "bandit"
    variants      = { v4 = 50, v5 = 50 }
    reward        = "feedback"
    min_samples   = 30
    explore_floor = 0.1
    promote_when  = 0.95
    auto_promote  = true
  }
`)
	}
	b.WriteString("}\n")
	return b.String()
}
