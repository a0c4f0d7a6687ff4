router "edge" {
  type   = "builtin"
  listen = "8080" # ERROR: Invalid listen address
}

router "remote" {
  type      = "builtin"
  admin     = "10.0.0.7:9901" # ERROR: Invalid admin URL
  token_env = "EDGE_TOKEN"
}

router "solo" {
  type      = "builtin"
  listen    = "127.0.0.1:8081"
  token_env = "SOLO_TOKEN" # WARNING: token_env without admin
}

metrics "prom" {
  type = "prometheus"
  url  = "localhost:9090" # ERROR: Invalid metrics URL
}

metrics "router" { # ERROR: Reserved metrics name
  type = "prometheus"
  url  = "http://127.0.0.1:9090"
}

metrics "" { # ERROR: Invalid name
  type = "prometheus"
  url  = "http://127.0.0.1:9090"
}

router "remote_feedback" {
  type               = "builtin"
  admin              = "http://127.0.0.1:9902"
  feedback_token_env = "FEEDBACK_TOKEN" # WARNING: feedback_token_env without listen
}

router "lb" {
  type               = "nginx"
  config_file        = "/etc/nginx/switchyard.conf"
  feedback_token_env = "FEEDBACK_TOKEN" # ERROR: feedback_token_env on a nginx router
}
