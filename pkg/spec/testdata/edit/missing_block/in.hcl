# Fraud model: production.
model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v8" # promoted in PR #42

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }

  rollout {
    strategy = "canary"
    steps    = [5, 25, 50]
  }
}
