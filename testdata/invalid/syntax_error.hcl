router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7" "v8" # ERROR: Missing newline after argument
}
