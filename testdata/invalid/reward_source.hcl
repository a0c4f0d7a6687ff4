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
  experiment {
    variants = { v7 = 50, v8 = 50 }
    reward   = "clicks" # ERROR: Unknown reward source
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
    variants = { v7 = 50, v8 = 50 }
    reward   = "prom" # ERROR: Missing reward query
  }
}
