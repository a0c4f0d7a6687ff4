router "edge" { # ERROR: Builtin router without listen or admin
  type = "builtin"
}

router "web" { # ERROR: Missing config_file
  type = "nginx"
}

router "lb" { # ERROR: Missing config_file
  type = "haproxy"
}
model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }
}
