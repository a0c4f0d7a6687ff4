router "web" {
  type        = "nginx"
  config_file = "/tmp/switchyard.conf"
}
metrics "prom" {
  type = "prometheus"
  url  = "http://127.0.0.1:9090"
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
  experiment {
    method   = "bandit" # ERROR: Router type "nginx" cannot run a bandit
    variants = { v7 = 50, v8 = 50 }
    reward   = "prom"
    query    = "sum(rate(clicks{version=\"{{version}}\"}[1m]))"
  }
}
