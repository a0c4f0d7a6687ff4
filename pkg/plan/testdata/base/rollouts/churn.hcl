model "churn" "staging" {
  router = "edge"
  path   = "/v1/churn"
  serve  = "c3"

  version "c3" { url = "http://127.0.0.1:9301" }
}
