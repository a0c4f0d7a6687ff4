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
  experiment {
    method   = "ab"
    variants = { v7 = 50, v9 = 50 } # ERROR: Unknown variant
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
    method   = "ab"
    variants = { v7 = 50, v8 = 40 } # ERROR: Variant weights do not sum to 100
  }
}
model "fraud" "canary" {
  router = "edge"
  path   = "/canary/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }
  experiment {
    method   = "ab"
    variants = { v7 = 50, rules = 50 } # ERROR: Heuristic as experiment variant
  }
}
