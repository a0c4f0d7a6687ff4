model "search" "production" {
  router = "edge"
  path   = "/v1/search"
  serve  = "s1"

  version "s1" { url = "http://127.0.0.1:9201" }
  version "s2" { url = "http://127.0.0.1:9202" }
}
