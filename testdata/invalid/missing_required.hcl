router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

model "fraud" "production" { # ERROR: Missing required argument # ERROR: Model has no versions
  router = "edge"
  path   = "/v1/fraud"
}

model "fraud" { # ERROR: Missing stage for model
  router = "edge"
}
