router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}
metrics "prom" {
  type = "prometheus"
  url  = "http://127.0.0.1:9090"
}
model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }
  check "empty" { # ERROR: Check measures nothing
    max = 1
  }
  check "query_on_router" {
    query = "sum(x)" # ERROR: Query on the router source
    max   = 1
  }
  check "ratio_on_query" {
    source    = "prom"
    query     = "sum(x)"
    max_ratio = 1.2 # ERROR: max_ratio needs a router metric
  }
  check "no_threshold" { # ERROR: Check has no threshold
    metric = "latency_p99"
  }
  check "prom_without_query" { # ERROR: Missing query
    source = "prom"
    max    = 1
  }
  check "percent_error_rate" {
    metric = "error_rate"
    max    = 5 # ERROR: Error rate out of range
  }
}
