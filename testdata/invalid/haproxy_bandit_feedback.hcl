router "lb" {
  type        = "haproxy"
  config_file = "/tmp/switchyard.cfg"
}
metrics "prom" {
  type = "prometheus"
  url  = "http://127.0.0.1:9090"
}
model "fraud" "production" {
  router = "lb"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }
  rollout {
    strategy = "blue_green" # HAProxy routes preview headers through an ACL
  }
}
model "fraud" "staging" {
  router = "lb"
  path   = "/staging/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }
  experiment {
    method   = "bandit" # ERROR: Router type "haproxy" cannot run a bandit
    variants = { v7 = 50, v8 = 50 }
    sticky   = "header:x-user-id"
    reward   = "feedback" # ERROR: Router type "haproxy" cannot collect feedback rewards
  }
}
