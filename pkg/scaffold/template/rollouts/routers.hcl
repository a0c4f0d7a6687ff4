# The router that carries your models' traffic. The builtin router is served
# by the reconciler itself on this address; see docs/spec.md for nginx,
# HAProxy and standalone builtin routers.
router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}
