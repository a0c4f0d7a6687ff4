model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v6"

  version "v6" { url = "https://fraud-v6.internal" }
  version "v7" { url = "https://fraud-v7.internal" }
  version "rules" {
    url       = "https://fraud-rules.internal"
    heuristic = true
  }

  rollout {
    strategy = "canary"
    steps    = [5, 25, 50]
    bake     = "1m"
    interval = "10s"
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.01
    min_requests = 50
  }
}

model "fraud" "staging" {
  router = "edge"
  path   = "/staging/fraud"
  serve  = "v7"

  version "v6" { url = "http://127.0.0.1:9101" }
  version "v7" { url = "http://127.0.0.1:9102" }
}
