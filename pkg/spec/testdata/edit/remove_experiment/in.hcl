model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }

  # A/B test of the new features.
  experiment {
    method       = "ab"
    variants     = { v7 = 50, v8 = 50 }
    auto_promote = true
  }

  check "errors" {
    metric = "error_rate"
    max    = 0.01
  }
}
