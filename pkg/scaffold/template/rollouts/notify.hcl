# Where the reconciler announces what it did (a rollback, with its revert
# commit; a promotion): uncomment the block, point url at your endpoint, and
# put the secret in the reconciler's environment (docs/operating.md,
# "Notifications"). Webhook bodies are signed with that secret.
#
# notify "ops" {
#   type       = "webhook"
#   url        = "https://hooks.example.com/switchyard"
#   secret_env = "SWITCHYARD_NOTIFY_SECRET"
#   events     = ["rollback", "fallback", "roll_through", "promote", "conclude", "paused", "rejected_head"]
# }
