# An example model, in two stages. Promote a version by changing `serve` in a
# pull request: first in staging, then in production. Replace the urls with
# your own model servers. The reference: docs/spec.md.

model "fraud" "staging" {
  router = "edge"
  path   = "/staging/v1/fraud"
  serve  = "v1"

  version "v1" { url = "http://127.0.0.1:9101" }
  version "v2" {
    url = "http://127.0.0.1:9102"
    # Offline validation, run by the GitHub Action before v2 may be promoted.
    validation {
      dataset         = "datasets/fraud-holdout.jsonl"
      url             = "http://127.0.0.1:9102/predict"
      output          = "/label"
      metric          = "accuracy"
      min             = 0.9
      max_latency_p99 = 0.5
    }
  }
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v1"

  # Production model servers are reached over https (policy https_in_production).
  version "v1" { url = "https://fraud-v1.models.example.com" }
  version "v2" { url = "https://fraud-v2.models.example.com" }

  # A change of serve is a canary: 5%, 25%, 50% of the traffic, then 100%,
  # each held for a minute while the checks below are measured.
  rollout {
    strategy   = "canary"
    steps      = [5, 25, 50]
    bake       = "1m"
    interval   = "10s"
    on_failure = "rollback"
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
}
