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
      dataset = "datasets/missing.jsonl" # ERROR: Dataset not found
      min     = 0.9
    }
  }
  version "v10" {
    url = "http://127.0.0.1:9110"
    validation {
      dataset = "../outside.jsonl" # ERROR: Invalid dataset path
      metric  = "mae"
      max     = 0.1
    }
  }
}
