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
  version "v9" {
    url = "http://127.0.0.1:9109"
    validation {
      dataset = "datasets/present.jsonl"
      metric  = "f2" # ERROR: Unknown validation metric
      min     = 0.9
    }
  }
}
