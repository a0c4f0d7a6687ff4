router "fleet" {
  type  = "builtin"
  admin = ["http://127.0.0.1:9901", "127.0.0.1:9902"] # ERROR: Invalid admin URL
}

router "twice" {
  type  = "builtin"
  admin = ["http://127.0.0.1:9901", "http://127.0.0.1:9901"] # ERROR: Duplicate admin URL
}

router "none" {
  type  = "builtin"
  admin = [] # ERROR: Empty admin list
}

router "number" {
  type  = "builtin"
  admin = 9901 # ERROR: Incorrect attribute value type
}

router "lbs" {
  type        = "haproxy"
  config_file = "/etc/haproxy/switchyard.cfg"
  runtime_api = ["/run/a.sock", "10.0.0.8:9999"] # ERROR: runtime_api on another host
}

router "lbtwice" {
  type        = "haproxy"
  config_file = "/etc/haproxy/switchyard.cfg"
  runtime_api = ["/run/a.sock", "/run/a.sock"] # ERROR: Duplicate runtime_api address
}

router "lbfd" {
  type        = "haproxy"
  config_file = "/etc/haproxy/switchyard.cfg"
  runtime_api = "fd@3" # ERROR: Invalid runtime_api address
}
