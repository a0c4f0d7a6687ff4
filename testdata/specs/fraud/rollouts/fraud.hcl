model "fraud" "staging" {
  router = "edge"
  path   = "/staging/v1/fraud"
  serve  = "v8"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" {
    url = "http://127.0.0.1:9103"
    validation {
      dataset         = "datasets/fraud-holdout.jsonl"
      url             = "http://127.0.0.1:9103/predict"
      output          = "/score"
      metric          = "accuracy"
      min             = 0.92
      max_latency_p99 = 0.2
    }
  }

  shadow {
    version       = "v7"
    percent       = 100
    compare       = "json"
    tolerance     = 0.001
    min_agreement = 0.98
    min_samples   = 500
  }
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v6" { url = "http://127.0.0.1:9101" }
  version "v7" { url = "http://127.0.0.1:9102" }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }

  rollout {
    strategy      = "canary"
    steps         = [5, 25, 50]
    bake          = "1m"
    interval      = "10s"
    failure_limit = 0
    on_failure    = "fallback"
    fallback      = "rules"
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
  check "business" {
    source = "prom"
    query  = "sum(rate(fraud_errors_total{version=\"{{version}}\"}[1m]))"
    max    = 0.5
  }
}
