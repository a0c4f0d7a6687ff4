router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}
model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }
  rollout {
    on_failure = "roll_through" # ERROR: Missing roll_through
  }
}
model "fraud" "staging" {
  router = "edge"
  path   = "/staging/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }
  rollout {
    on_failure   = "roll_through"
    roll_through = "v9" # ERROR: Unknown roll_through version
  }
}
model "fraud" "canary" {
  router = "edge"
  path   = "/canary/fraud"
  serve  = "v7"

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }
  rollout {
    on_failure   = "roll_through"
    roll_through = "v7" # ERROR: roll_through is the version being rolled out
  }
}
