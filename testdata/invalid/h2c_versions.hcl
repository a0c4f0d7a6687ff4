router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8446"
}
router "web" {
  type        = "nginx"
  config_file = "/tmp/switchyard-h2c.conf"
}
model "triton" "production" {
  router = "edge"
  path   = "/inference.GRPCInferenceService"
  serve  = "v1"

  version "v1" { url = "h2c://127.0.0.1:8001/inference.GRPCInferenceService" }
  version "v2" {
    url = "h2c://127.0.0.1:8002/inference.GRPCInferenceService"
    validation {
      dataset = "datasets/present.jsonl"
      metric  = "accuracy"
      min     = 0.9
      url     = "http://127.0.0.1:8003/v2/models/fraud/infer"
    }
  }
  version "v3" {
    url = "h2c://127.0.0.1:8004"
    validation { # ERROR: Validation of an h2c:// version needs a url
      dataset = "datasets/present.jsonl"
      metric  = "accuracy"
      min     = 0.9
    }
  }
  version "v4" { url = "grpc://127.0.0.1:8005" } # ERROR: Invalid version URL
}
model "triton" "staging" {
  router = "web"
  path   = "/staging"
  serve  = "v1"

  version "v1" { url = "h2c://127.0.0.1:8001" } # ERROR: h2c:// version on a nginx router
}
