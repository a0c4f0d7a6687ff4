# The router that carries your models' traffic. The builtin router is served
# by the reconciler itself on this address; see docs/spec.md for nginx,
# HAProxy and standalone builtin routers.
router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

# Announce rollbacks and other outcomes on a webhook or in Slack: uncomment,
# point url at your receiver, and put the secret in the reconciler's
# environment (docs/operating.md#notifications).
# notify "ops" {
#   type       = "webhook"
#   url        = "https://hooks.example.com/switchyard"
#   secret_env = "NOTIFY_SECRET"
#   events     = ["rollback", "fallback", "roll_through", "paused", "rejected_head"]
# }
