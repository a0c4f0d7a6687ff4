router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080" x # ERROR: Missing newline after argument
}

metrics "prom" {
  type = "prometheus"
  url  = "http://127.0.0.1:9090"
}
