router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

model "fraud" "staging" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }

  shadow {
    version       = "v8"
    percent       = -1 # ERROR: Percentage out of range
    tolerance     = -0.1 # ERROR: Invalid tolerance
    min_agreement = 98 # ERROR: Agreement out of range
    min_samples   = 0 # ERROR: Invalid min_samples
  }
}
