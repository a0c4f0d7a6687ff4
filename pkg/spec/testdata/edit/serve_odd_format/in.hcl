router "edge" {
    type="builtin"
}

model   "fraud"   "production"   {
    router="edge"
  path =    "/v1/fraud"
        serve    =       "v8"       // keep me
  /* block comment */ version "v8" {
      url = "http://127.0.0.1:9103"
      }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }
}
