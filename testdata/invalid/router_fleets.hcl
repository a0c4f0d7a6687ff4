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
  runtime_api = ["/run/a.sock", "/run/b.sock"] # ERROR: Several runtime_api addresses are not supported yet
}
