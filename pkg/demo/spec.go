package demo

import (
	"fmt"
	"strings"
)

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

  version "v1" { url = %q }
  version "v2" { url = %q }
  version "v3" { url = %q }
  version "rules" {
    url       = %q
    heuristic = true
  }

  rollout {
    strategy      = "canary"
    steps         = [10, 50]
    bake          = "3s"
    interval      = "1s"
    failure_limit = 1
    on_failure    = "rollback"
  }

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
`, routerAddr, s.Serve, urls["v1"], urls["v2"], urls["v3"], urls["rules"])
	if s.Shadow {
		b.WriteString(`
  shadow {
    version       = "v1"
    percent       = 100
    compare       = "json"
    tolerance     = 0.001
    min_agreement = 0.9
    min_samples   = 1000
  }
`)
	}
	if s.Experiment {
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
	}
	b.WriteString("}\n")
	return b.String()
}
