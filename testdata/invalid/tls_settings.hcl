router "half" {
  type     = "builtin"
  listen   = "127.0.0.1:8443"
  tls_cert = "/etc/switchyard/tls/cert.pem" # ERROR: tls_cert without tls_key
}
router "keyonly" {
  type    = "builtin"
  listen  = "127.0.0.1:8444"
  tls_key = "/etc/switchyard/tls/key.pem" # ERROR: tls_key without tls_cert
}
router "standalone" {
  type     = "builtin"
  admin    = "http://127.0.0.1:9901"
  tls_cert = "/etc/switchyard/tls/cert.pem" # WARNING: tls_cert without listen
  tls_key  = "/etc/switchyard/tls/key.pem"
}
router "web" {
  type        = "nginx"
  config_file = "/tmp/switchyard.conf"
  tls_cert    = "/etc/switchyard/tls/cert.pem" # ERROR: tls_cert on a nginx router
  tls_key     = "/etc/switchyard/tls/key.pem" # ERROR: tls_key on a nginx router
}
model "fraud" "production" {
  router = "half"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" {
    url     = "https://127.0.0.1:9102"
    ca_file = "/etc/switchyard/tls/models-ca.pem"
  }
  version "v8" {
    url     = "http://127.0.0.1:9103"
    ca_file = "/etc/switchyard/tls/models-ca.pem" # ERROR: ca_file on a version that is not https
  }
}
router "inproc" {
  type    = "builtin"
  listen  = "127.0.0.1:8445"
  ca_file = "/etc/switchyard/tls/admin-ca.pem" # WARNING: ca_file without admin
}
router "lb" {
  type        = "haproxy"
  config_file = "/tmp/switchyard.cfg"
  runtime_api = "/run/haproxy/admin.sock"
  ca_file     = "/etc/switchyard/tls/admin-ca.pem" # ERROR: ca_file on a haproxy router
}
router "remote" {
  type    = "builtin"
  admin   = "https://127.0.0.1:9902"
  ca_file = "/etc/switchyard/tls/admin-ca.pem"
}
model "fraud" "staging" {
  router = "web"
  path   = "/v1/fraud-staging"
  serve  = "v7"

  version "v7" {
    url     = "https://127.0.0.1:9102"
    ca_file = "/etc/switchyard/tls/models-ca.pem" # ERROR: ca_file on a nginx router's version
  }
}
