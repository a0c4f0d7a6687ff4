model "search" "production" {
  router = "web"
  path   = "/v1/search"
  serve  = "blue"

  version "green" { url = "http://127.0.0.1:9501" }
  version "blue" { url = "http://127.0.0.1:9502" }

  rollout {
    strategy       = "blue_green"
    bake           = "2m"
    interval       = "15s"
    preview_header = "x-preview"
    keep_previous  = "10m"
    on_failure     = "roll_through"
    roll_through   = "green"
  }

  check "errors" {
    metric = "error_rate"
    max    = 0.02
  }
}

model "geo" "production" {
  router = "lb"
  path   = "/v1/geo"
  serve  = "v2"

  version "v1" { url = "http://127.0.0.1:9601" }
  version "v2" { url = "http://127.0.0.1:9602" }

  rollout {
    strategy = "all_at_once"
    bake     = "30s"
  }

  check "errors" {
    metric = "error_rate"
    max    = 0.05
  }
}
