router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

model "fraud" "staging" {
  router = "edge"
  path   = "/staging/v1/fraud"
  serve  = "v8"

  version "v7" { url = "http://127.0.0.1:9101" }
  version "v8" { url = "http://127.0.0.1:9102" }
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9101" }
  version "v8" {
    url = "http://127.0.0.1:9102"
    validation {
      dataset         = "datasets/fraud-holdout.jsonl"
      url             = "{{MODEL_URL}}/predict"
      output          = "/label"
      metric          = "accuracy"
      min             = 0.9
      max_latency_p99 = 0.5
    }
  }

  rollout {
    strategy = "canary"
    steps    = [5, 25, 50]
    bake     = "1m"
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.01
    min_requests = 50
  }
}
