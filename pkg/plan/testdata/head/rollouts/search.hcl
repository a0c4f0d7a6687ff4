model "search" "production" {
  router = "edge"
  path   = "/v1/search"
  serve  = "s1"

  version "s1" { url = "http://10.0.0.9:9401" }
}
