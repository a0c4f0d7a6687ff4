router "web" {
  type        = "nginx"
  config_file = "/tmp/switchyard.conf"
}
router "lb" {
  type        = "haproxy"
  config_file = "/tmp/switchyard.cfg"
}
model "fraud" "production" {
  router = "web"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }
  shadow { # ERROR: Router type "nginx" cannot compare shadow responses
    version = "v8"
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
  shadow { # ERROR: Router type "haproxy" cannot compare shadow responses
    version = "v8"
  }
}
