#!/usr/bin/env bash
# Streaming benchmark: the time to the first event of a server-sent event
# stream (an LLM's first token) straight from the model server, through the
# builtin router, and through nginx 1.22 with proxy_buffering off. The model
# server (bench/stream -serve) sends its first event at once, then one every
# EVERY (default 300ms), EVENTS in all (default 5); each target is measured
# over N streams (default 20), one after another. Loopback only.
# Usage: bench/stream/run.sh   (env: N=20 EVENTS=5 EVERY=300ms
# BASE_PORT=19300, BEFORE=path to an older reconciler binary to measure too)
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${N:-20}
EVENTS=${EVENTS:-5}
EVERY=${EVERY:-300ms}
BASE=${BASE_PORT:-19300}
BACKEND=$((BASE + 1)) ROUTER=$((BASE + 80)) ADMIN=$((BASE + 81)) NGINX=$((BASE + 180))
OLD=$((BASE + 82)) OLD_ADMIN=$((BASE + 83))
TOKEN=bench-token

for bin in nginx curl go; do
	command -v "$bin" >/dev/null || { echo "run.sh: $bin is not installed" >&2; exit 2; }
done

TMP=$(mktemp -d)
PIDS=()
cleanup() {
	if [ -f "$TMP/nginx.pid" ]; then kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true; fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

go build -o "$TMP/reconciler" ./cmd/reconciler
go build -o "$TMP/stream" ./bench/stream

cat >"$TMP/routes.json" <<JSON
{"routes": [{"model": "llm", "stage": "production", "path": "/v1/llm",
  "backends": {"v1": "http://127.0.0.1:$BACKEND"},
  "weights": [{"version": "v1", "percent": 100}]}]}
JSON
cat >"$TMP/nginx.conf" <<CONF
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/client_body;
    proxy_temp_path $TMP/proxy;
    fastcgi_temp_path $TMP/fastcgi;
    uwsgi_temp_path $TMP/uwsgi;
    scgi_temp_path $TMP/scgi;
    upstream llm {
        server 127.0.0.1:$BACKEND;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$NGINX;
        location /v1/llm/ {
            proxy_pass http://llm/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
CONF

"$TMP/stream" -serve "127.0.0.1:$BACKEND" -events "$EVENTS" -every "$EVERY" 2>>"$TMP/backend.log" &
PIDS+=($!)
SWITCHYARD_ROUTER_TOKEN=$TOKEN "$TMP/reconciler" router --listen "127.0.0.1:$ROUTER" \
	--admin "127.0.0.1:$ADMIN" --routes "$TMP/routes.json" 2>"$TMP/router.log" &
PIDS+=($!)
if [ -n "${BEFORE:-}" ]; then
	SWITCHYARD_ROUTER_TOKEN=$TOKEN "$BEFORE" router --listen "127.0.0.1:$OLD" \
		--admin "127.0.0.1:$OLD_ADMIN" --routes "$TMP/routes.json" 2>"$TMP/old.log" &
	PIDS+=($!)
fi
nginx -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/error.log"

# A port that accepts is up (the stream itself takes EVENTS × EVERY).
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "run.sh: port $1 did not come up" >&2
	exit 1
}
wait_port "$BACKEND"
wait_port "$ROUTER"
wait_port "$NGINX"
targets=(
	"direct http://127.0.0.1:$BACKEND/generate"
	"router http://127.0.0.1:$ROUTER/v1/llm/generate"
	"nginx http://127.0.0.1:$NGINX/v1/llm/generate"
)
if [ -n "${BEFORE:-}" ]; then
	wait_port "$OLD"
	targets+=("router_before http://127.0.0.1:$OLD/v1/llm/generate")
fi

echo "| path | first event p50 (ms) | p90 | p99 | whole stream p50 (ms) |"
echo "|---|---|---|---|---|"
for t in "${targets[@]}"; do
	set -- $t
	"$TMP/stream" -url "$2" -n 2 >/dev/null # warm-up: connections
	read -r p50 p90 p99 end < <("$TMP/stream" -url "$2" -n "$N")
	echo "| $1 | $p50 | $p90 | $p99 | $end |"
done
ttfb=$(curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ADMIN/v1/stats?window=5m" |
	grep -o '"ttfb_p[0-9]*": *[0-9.e-]*' | tr '\n' ' ' || true)
echo
echo "router's own stats: $ttfb (seconds)"
