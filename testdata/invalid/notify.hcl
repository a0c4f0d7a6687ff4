router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
}

notify "ops" {
  type       = "webhok" # ERROR: Unknown notify type
  url        = "hooks.example.com/switchyard" # ERROR: Invalid notify URL
  secret_env = "my secret" # ERROR: Invalid secret_env
  events = [
    "rollback",
    "rolback", # ERROR: Unknown event
    "started",
    "started", # WARNING: Duplicate event
  ]
}

notify "chat" {
  type       = "slack"
  url        = "https://hooks.slack.com/services/T0/B0/XXXX"
  secret_env = "SLACK_SECRET" # WARNING: secret_env unused by slack
  events     = [] # WARNING: No events
}

notify "ops" { # ERROR: Duplicate notify block
  type = "webhook"
  url  = "https://hooks.example.com/other"
}

notify "pager" { # ERROR: Missing required argument
  type    = "webhook"
  channel = "#ops" # ERROR: Unsupported argument
}

notify "typed" {
  type   = "webhook"
  url    = "https://hooks.example.com/typed"
  events = "rollback" # ERROR: Incorrect attribute value type
}
