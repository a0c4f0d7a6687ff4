router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
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
  check "errors" {
    metric = "error_rat" # ERROR: Unknown metric
    max    = 0.01
  }
  shadow {
    version = "v8"
    compare = "fuzzy" # ERROR: Unknown compare
  }
}
model "fraud" "staging" {
  router = "edge"
  path   = "/staging/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }
  experiment {
    method   = "abtest" # ERROR: Unknown method
    variants = { v7 = 50, v8 = 50 }
  }
}
