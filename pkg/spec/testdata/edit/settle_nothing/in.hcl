# The demo model: roll through to v4 if v3 fails.
model "demo" "production" {
  router = "edge"
  path   = "/v1/demo"
  serve  = "v3"

  version "v2" { url = "http://127.0.0.1:9102" }
  version "v3" { url = "http://127.0.0.1:9103" }
  version "v4" { url = "http://127.0.0.1:9104" }

  rollout {
    strategy      = "canary"
    steps         = [10, 50]
    on_failure    = "roll_through" # v4 has the fix
    roll_through  = "v4"
    bake          = "1m"
  }

  shadow {
    version = "v4"
    percent = 10
  }

  check "errors" {
    metric = "error_rate"
    max    = 0.01
  }
}

model "demo" "staging" {
  router = "edge"
  path   = "/v1/demo-staging"
  serve  = "v3"
  version "v4" { url = "http://127.0.0.1:9104" }
  rollout {
    roll_through = "v4"
  }
}
