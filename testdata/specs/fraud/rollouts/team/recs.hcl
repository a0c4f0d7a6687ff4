model "recs" "production" {
  router = "edge"
  path   = "/v1/recs"
  serve  = "v3"

  version "v3" { url = "http://127.0.0.1:9301" }
  version "v4" { url = "http://127.0.0.1:9302" }

  experiment {
    method       = "ab"
    variants     = { v4 = 50, v3 = 50 }
    sticky       = "header:x-user-id"
    reward       = "feedback"
    alpha        = 0.05
    min_samples  = 1000
    auto_promote = true
  }
}

model "ranker" "production" {
  router = "edge"
  path   = "/v1/ranker"
  serve  = "a"

  version "a" { url = "http://127.0.0.1:9401" }
  version "b" { url = "http://127.0.0.1:9402" }
  version "c" { url = "http://127.0.0.1:9403" }

  experiment {
    method        = "bandit"
    variants      = { a = 34, b = 33, c = 33 }
    sticky        = "cookie:uid"
    reward        = "prom"
    query         = "sum(rate(clicks_total{version=\"{{version}}\"}[1m]))"
    explore_floor = 0.05
    promote_when  = 0.95
  }
}
