router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

model "ranker" "production" {
  router = "edge"
  path   = "/v1/ranker"
  serve  = "a"

  version "a" { url = "http://127.0.0.1:9401" }
  version "b" { url = "http://127.0.0.1:9402" }

  experiment {
    method        = "bandit"
    variants      = { a = 0, b = 0 } # ERROR: Variant weights are all zero
    explore_floor = 0.6 # ERROR: explore_floor out of range
    promote_when  = 1.5 # ERROR: promote_when out of range
    min_samples   = 0 # ERROR: Invalid min_samples
    query         = "sum(x)" # WARNING: query is ignored
  }
}
