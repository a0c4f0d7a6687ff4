router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}
model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" {
    url = "http://127.0.0.1:9103"
    validation {
      dataset        = "datasets/present.jsonl"
      metric         = "auc"
      positive       = "fraud"
      baseline       = "live" # ERROR: Unknown baseline
      max_regression = 0.01
    }
  }
  version "v9" {
    url = "http://127.0.0.1:9109"
    validation {
      dataset        = "datasets/present.jsonl"
      metric         = "f1"
      max_regression = 0.01 # ERROR: max_regression needs a baseline
    }
  }
  version "v10" {
    url = "http://127.0.0.1:9110"
    validation {
      dataset        = "datasets/present.jsonl"
      metric         = "log_loss"
      min            = 0.2 # ERROR: Wrong threshold for log_loss
      baseline       = "serve"
      max_regression = -1 # ERROR: Invalid max_regression
    }
  }
  version "v11" {
    url = "http://127.0.0.1:9111"
    validation {
      dataset  = "datasets/present.jsonl"
      metric   = "precision"
      max      = 0.9 # ERROR: Wrong threshold for precision
      positive = 1
    }
  }
  version "v12" {
    url = "http://127.0.0.1:9112"
    validation {
      dataset  = "datasets/present.jsonl"
      metric   = "recall"
      min      = 92 # ERROR: Recall out of range
    }
  }
  version "v13" {
    url = "http://127.0.0.1:9113"
    validation {
      dataset  = "datasets/present.jsonl"
      metric   = "mae"
      max      = 0.5
      positive = true # WARNING: positive is ignored
    }
  }
}
