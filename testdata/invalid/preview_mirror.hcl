router "web" {
  type        = "nginx"
  config_file = "/tmp/switchyard.conf"
}
router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}
model "fraud" "production" {
  router = "web"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  rollout {
    strategy       = "blue_green"
    preview_mirror = 20 # ERROR: Router type "nginx" cannot compare shadow responses
  }
}
model "fraud" "staging" {
  router = "edge"
  path   = "/staging/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  rollout {
    strategy       = "blue_green"
    preview_mirror = 120 # ERROR: Percentage out of range
  }
}
model "ranker" "production" {
  router = "edge"
  path   = "/v1/ranker"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  rollout {
    strategy       = "canary"
    steps          = [10]
    preview_mirror = 20 # WARNING: preview_mirror is ignored
  }
}
