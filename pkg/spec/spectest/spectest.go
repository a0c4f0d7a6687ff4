// Package spectest generates spec trees for tests and benchmarks.
package spectest

import "fmt"

// Routers is a file with the routers and metrics source that Tree's models
// use.
const Routers = `router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

router "web" {
  type        = "nginx"
  config_file = "/etc/nginx/conf.d/switchyard.conf"
  listen      = "0.0.0.0:80"
  command     = ["nginx"]
}

metrics "prom" {
  type = "prometheus"
  url  = "http://127.0.0.1:9090"
}
`

// Tree returns a valid repository of n production models, one file each
// (rollouts/model-0000.hcl ...), plus rollouts/routers.hcl and the dataset
// they validate against. Models cycle through canary, blue_green,
// all_at_once, shadow and ab experiment, so every part of the loader runs.
func Tree(n int) map[string][]byte {
	files := map[string][]byte{
		"rollouts/routers.hcl":   []byte(Routers),
		"datasets/holdout.jsonl": []byte(`{"input": {"x": 1}, "expected": 1}` + "\n"),
	}
	for i := 0; i < n; i++ {
		files[fmt.Sprintf("rollouts/model-%04d.hcl", i)] = Model(i)
	}
	return files
}

// Model returns the spec file of model i of Tree.
func Model(i int) []byte {
	name := fmt.Sprintf("m%04d", i)
	router := "edge"
	var extra string
	switch i % 5 {
	case 0:
		extra = `
  rollout {
    strategy      = "canary"
    steps         = [5, 25, 50]
    bake          = "1m"
    interval      = "10s"
    failure_limit = 1
    on_failure    = "fallback"
    fallback      = "rules"
  }
`
	case 1:
		router = "web"
		extra = `
  rollout {
    strategy      = "blue_green"
    bake          = "2m"
    keep_previous = "10m"
    on_failure    = "roll_through"
    roll_through  = "v1"
  }
`
	case 2:
		extra = `
  rollout {
    strategy = "all_at_once"
    bake     = "30s"
  }
`
	case 3:
		extra = `
  shadow {
    version       = "v3"
    percent       = 50
    compare       = "json"
    tolerance     = 0.001
    min_agreement = 0.98
    min_samples   = 500
  }
`
	case 4:
		extra = `
  experiment {
    method       = "ab"
    variants     = { v2 = 50, v3 = 50 }
    sticky       = "header:x-user-id"
    alpha        = 0.05
    min_samples  = 1000
    auto_promote = true
  }
`
	}
	return []byte(fmt.Sprintf(`# Model %[1]s, generated.
model %[1]q "production" {
  router = %[2]q
  path   = "/v1/%[1]s"
  serve  = "v2"

  version "v1" { url = "http://127.0.0.1:9101" }
  version "v2" { url = "http://127.0.0.1:9102" }
  version "v3" {
    url = "http://127.0.0.1:9103"
    validation {
      dataset = "datasets/holdout.jsonl"
      output  = "/score"
      metric  = "accuracy"
      min     = 0.9
    }
  }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }
%[3]s
  check "errors" {
    metric       = "error_rate"
    max          = 0.01
    min_requests = 50
  }
  check "latency" {
    metric    = "latency_p99"
    max_ratio = 1.2
  }
  check "business" {
    source = "prom"
    query  = "sum(rate(errors_total{model=\"%[1]s\",version=\"{{version}}\"}[1m]))"
    max    = 0.5
  }
}
`, name, router, extra))
}
