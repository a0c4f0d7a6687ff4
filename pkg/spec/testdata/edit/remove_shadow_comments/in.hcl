model "search" "production" {
  router = "edge" # the edge router
  path   = "/v1/search"
  serve  = "v3"

  version "v3" { url = "http://127.0.0.1:9301" }
  version "v4" { url = "http://127.0.0.1:9302" } # candidate

  shadow {
    version = "v4"
    percent = 100
  }
}
# trailing comment
