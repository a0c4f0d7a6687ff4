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

  experiment {
    method       = "ab"
    variants     = { r1 = 50, r2 = 50 }
    sticky       = "header:x-user-id"
    alpha        = 0.05
    min_samples  = 50
    auto_promote = true
  }
}
