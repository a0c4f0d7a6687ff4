# routers.hcl does not parse: references to what it defines are not
# reported as unknown, but everything else in this file still is.
model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v9" # ERROR: Unknown version in serve

  version "v7" { url = "http://127.0.0.1:9102" }

  check "business" {
    source = "prom"
    query  = "sum(x)"
    max    = 1
  }
}
