router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

model "fraud detector" "production" { # ERROR: Invalid name
  router = "edge"
  path   = "fraud" # ERROR: Invalid path
  serve  = "v7"

  version "v7" { url = "127.0.0.1:9102" } # ERROR: Invalid version URL
}

model "fraud" "staging" {
  router = "edge"
  path   = "/_switchyard/fraud" # ERROR: Reserved path
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
}

model "fraud" "canary" {
  router = "edge"
  path   = "/v1/fraud?x=1" # ERROR: Invalid path
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
}
