router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }

  rollout {
    stratgy = "canary" # ERROR: Unsupported argument
  }
  chek "errors" { # ERROR: Unsupported block type
  }
}

modle "x" "y" { # ERROR: Unsupported block type
}
