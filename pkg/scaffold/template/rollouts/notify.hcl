# Where the reconciler announces what it did: uncomment and point it at your
# endpoint (docs/spec.md, "notify"). Webhook bodies are signed with the secret
# held in the environment variable that secret_env names.
#
# notify "ops" {
#   type       = "webhook"
#   url        = "https://hooks.example.com/switchyard"
#   secret_env = "SWITCHYARD_NOTIFY_SECRET"
#   events     = ["rollback", "fallback", "roll_through", "promote", "conclude", "paused", "rejected_head"]
# }
