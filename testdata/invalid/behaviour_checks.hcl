router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}
router "web" {
  type        = "nginx"
  config_file = "/tmp/switchyard.conf"
}
metrics "prom" {
  type = "prometheus"
  url  = "http://127.0.0.1:9090"
}
model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }

  check "drift" {
    metric = "output_drift"
    output = "/score"
    max    = 0.1
  }
  check "drift_default" { # no max: 0.1 for numbers, 0.03 for classes
    metric = "output_drift"
    output = "/label"
  }
  check "mean_no_threshold" { # ERROR: Check has no threshold
    metric = "output_mean"
    output = "/score"
  }
  check "mean" {
    metric    = "output_mean"
    output    = "/score"
    max_ratio = 1.25
    min_ratio = 0.8
  }
  check "quality" {
    metric    = "accuracy"
    output    = "/label"
    min_ratio = 0.98
  }
  check "latency_floor" {
    metric    = "latency_p99"
    min_ratio = 0.5
  }
  check "no_output" { # ERROR: Missing output
    metric = "output_drift"
    max    = 0.1
  }
  check "bad_pointer" {
    metric = "output_mean"
    output = "score" # ERROR: Invalid JSON pointer
    max    = 1
  }
  check "output_on_errors" {
    metric = "error_rate"
    output = "/score" # ERROR: output on a metric that reads no output
    max    = 0.01
  }
  check "drift_ratio" {
    metric    = "output_drift"
    output    = "/score"
    max_ratio = 2 # ERROR: max_ratio on output_drift
  }
  check "drift_zero" {
    metric = "output_drift"
    output = "/score"
    max    = 0 # ERROR: Invalid max
  }
  check "accuracy_percent" {
    metric = "accuracy"
    output = "/label"
    min    = 92 # ERROR: Accuracy out of range
  }
  check "ratios_crossed" {
    metric    = "output_mean"
    output    = "/score"
    max_ratio = 1.1
    min_ratio = 1.2 # ERROR: min_ratio above max_ratio
  }
  check "min_ratio_query" {
    source    = "prom"
    query     = "sum(x)"
    min_ratio = 0.9 # ERROR: min_ratio needs a router metric
  }
  check "negative_ratio" {
    metric    = "latency_p99"
    min_ratio = -1 # ERROR: Invalid ratio
  }
}
model "fraud" "staging" {
  router = "web"
  path   = "/staging/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }

  check "drift" {
    metric = "output_drift" # ERROR: Router type "nginx" cannot read model outputs
    output = "/score"
    max    = 0.1
  }
}
