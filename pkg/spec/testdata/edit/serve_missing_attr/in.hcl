model "fraud" "production" {
    router = "edge"
    path   = "/v1/fraud"

    version "v7" { url = "http://127.0.0.1:9102" }
}
