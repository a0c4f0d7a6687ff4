model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v6" { url = "https://fraud-v6.internal" }
  version "v7" {
    url = "https://fraud-v7.internal"
    validation {
      dataset = "datasets/fraud-holdout.jsonl"
      metric  = "accuracy"
      min     = 0.92
    }
  }
  version "rules" {
    url       = "https://fraud-rules.internal"
    heuristic = true
  }

  rollout {
    strategy      = "canary"
    steps         = [5, 25, 50]
    bake          = "1m"
    interval      = "10s"
    failure_limit = 2
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
  check "drift" {
    metric       = "output_drift"
    output       = "/score"
    max          = 0.1
    min_requests = 200
  }
  check "mean" {
    metric    = "output_mean"
    output    = "/score"
    max_ratio = 1.25
    min_ratio = 0.8
  }
}

model "fraud" "staging" {
  router = "edge"
  path   = "/staging/fraud"
  serve  = "v8"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }

  shadow {
    version       = "v7"
    percent       = 50
    compare       = "json"
    tolerance     = 0.001
    min_agreement = 0.98
    min_samples   = 500
  }
}
