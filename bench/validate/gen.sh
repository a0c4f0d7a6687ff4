#!/usr/bin/env bash
# gen.sh DIR [N]: writes a spec tree of N (default 1000) models, one file
# each, under DIR/rollouts, as the validate benchmark uses. Mirrors
# genTree in pkg/policy/bench_test.go.
set -euo pipefail
dir=$1
n=${2:-1000}
mkdir -p "$dir/rollouts/models"
cat > "$dir/rollouts/routers.hcl" <<'HCL'
router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}
HCL
for ((i = 0; i < n; i++)); do
  name=$(printf 'm%04d' "$i")
  stage=production
  if ((i % 3 == 2)); then stage=staging; fi
  first=5
  if ((i % 100 == 99)); then first=20; fi
  scheme=https
  if ((i % 50 == 7)); then scheme=http; fi
  shadow=""
  if ((i % 5 == 0)); then
    shadow='
  shadow {
    version       = "v1"
    percent       = 100
    compare       = "json"
    tolerance     = 0.001
    min_agreement = 0.98
    min_samples   = 500
  }
'
  fi
  cat > "$dir/rollouts/models/$name.hcl" <<HCL
model "$name" "$stage" {
  router = "edge"
  path   = "/v1/$name"
  serve  = "v2"

  version "v1" { url = "$scheme://$name-v1.internal" }
  version "v2" { url = "$scheme://$name-v2.internal" }
  version "rules" {
    url       = "$scheme://$name-rules.internal"
    heuristic = true
  }

  rollout {
    strategy   = "canary"
    steps      = [$first, 25, 50]
    bake       = "1m"
    interval   = "10s"
    on_failure = "fallback"
    fallback   = "rules"
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.01
    min_requests = 50
  }
  check "latency" {
    metric    = "latency_p99"
    max_ratio = 1.2
  }
$shadow}
HCL
done
