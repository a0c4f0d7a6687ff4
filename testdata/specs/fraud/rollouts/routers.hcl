# Routers and metrics sources shared by every model.

router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

router "web" {
  type        = "nginx"
  config_file = "/etc/nginx/conf.d/switchyard.conf"
  listen      = "0.0.0.0:80"
  command     = ["nginx"]
}

router "lb" {
  type        = "haproxy"
  config_file = "/etc/haproxy/switchyard.cfg"
  runtime_api = "/run/haproxy/admin.sock"
  command     = ["haproxy", "-f", "/etc/haproxy/haproxy.cfg"]
}

metrics "prom" {
  type = "prometheus"
  url  = "http://127.0.0.1:9090"
}
