model "rank" "production" {
  router = "edge"
  path   = "/v1/rank"
  serve  = "r1"

  version "r1" { url = "https://rank-r1.internal" }
  version "r2" { url = "https://rank-r2.internal" }

  rollout {
    strategy = "blue_green"
    bake     = "5m"
  }

  check "errors" {
    metric = "error_rate"
    max    = 0.02
  }
}
