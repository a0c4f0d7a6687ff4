model "fraud" "staging" {
  router = "edge"
  path   = "/staging/fraud"
  serve  = "v8"
  version "v8" { url = "http://127.0.0.1:9103" }
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"
  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
}
