#!/usr/bin/env bash
# gRPC and TLS benchmark (issue 14). gRPC: unary calls per second and p99,
# closed loop (bench/grpc, C callers over 2 HTTP/2 connections, D
# seconds), straight to a Python gRPC server (Debian's python3-grpcio,
# testdata/grpc_predict.py), through the builtin router (an h2c:// version)
# and through nginx 1.22's grpc_pass, in clear text and over TLS. TLS: wrk
# over HTTPS (HTTP/1.1) to a tiny Go backend (bench/router/backend) through
# the router and through nginx, the same self-signed certificate on both.
# Loopback only.
# Usage: bench/grpc/run.sh   (env: D=10 C=32 BASE_PORT=19400)
set -euo pipefail
cd "$(dirname "$0")/../.."

D=${D:-10}
C=${C:-32}
BASE=${BASE_PORT:-19400}
ROUTER=$((BASE + 80)) ADMIN=$((BASE + 81)) ROUTER_TLS=$((BASE + 82)) ADMIN_TLS=$((BASE + 83))
NGINX=$((BASE + 180)) NGINX_TLS=$((BASE + 181)) HTTPB=$((BASE + 1))
TOKEN=bench-token
PY=/usr/bin/python3

for bin in nginx wrk openssl go $PY; do
	command -v "$bin" >/dev/null || { echo "run.sh: $bin is not installed" >&2; exit 2; }
done
$PY -c 'import grpc' || { echo "run.sh: needs python3-grpcio" >&2; exit 2; }

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
go build -o "$TMP/load" ./bench/grpc
go build -o "$TMP/backend" ./bench/router/backend
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null

# The gRPC server prints its port; it runs until its stdin closes.
mkfifo "$TMP/grpc.in"
$PY testdata/grpc_predict.py serve v1 <"$TMP/grpc.in" >"$TMP/grpc.out" 2>"$TMP/grpc.log" &
PIDS+=($!)
exec 7>"$TMP/grpc.in"
for _ in $(seq 100); do grep -q PORT "$TMP/grpc.out" 2>/dev/null && break; sleep 0.1; done
GRPC=$(awk '/PORT/ { print $2 }' "$TMP/grpc.out")
[ -n "$GRPC" ] || { echo "run.sh: the gRPC server did not start" >&2; cat "$TMP/grpc.log" >&2; exit 1; }
"$TMP/backend" -addr "127.0.0.1:$HTTPB" &
PIDS+=($!)

cat >"$TMP/routes.json" <<JSON
{"routes": [
 {"model": "grpc", "stage": "production", "path": "/switchyard.test.Predictor",
  "backends": {"v1": "h2c://127.0.0.1:$GRPC/switchyard.test.Predictor"},
  "weights": [{"version": "v1", "percent": 100}]},
 {"model": "m", "stage": "production", "path": "/v1/m",
  "backends": {"v1": "http://127.0.0.1:$HTTPB"},
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
    upstream grpcs { server 127.0.0.1:$GRPC; keepalive 16; }
    upstream m { server 127.0.0.1:$HTTPB; keepalive 64; }
    server {
        listen 127.0.0.1:$NGINX http2;
        location / { grpc_pass grpc://grpcs; }
    }
    server {
        listen 127.0.0.1:$NGINX_TLS ssl http2;
        ssl_certificate $TMP/cert.pem;
        ssl_certificate_key $TMP/key.pem;
        location /switchyard.test.Predictor/ { grpc_pass grpc://grpcs; }
        location /v1/m/ {
            proxy_pass http://m/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
nginx -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/error.log"
SWITCHYARD_ROUTER_TOKEN=$TOKEN "$TMP/reconciler" router --listen "127.0.0.1:$ROUTER" \
	--admin "127.0.0.1:$ADMIN" --routes "$TMP/routes.json" 2>"$TMP/router.log" &
PIDS+=($!)
SWITCHYARD_ROUTER_TOKEN=$TOKEN "$TMP/reconciler" router --listen "127.0.0.1:$ROUTER_TLS" \
	--admin "127.0.0.1:$ADMIN_TLS" --routes "$TMP/routes.json" \
	--tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" 2>"$TMP/router_tls.log" &
PIDS+=($!)

wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "run.sh: port $1 did not come up" >&2
	exit 1
}
for p in "$HTTPB" "$ROUTER" "$ROUTER_TLS" "$NGINX" "$NGINX_TLS"; do wait_port "$p"; done

echo "gRPC unary, $C callers over 2 HTTP/2 connections, ${D}s each:"
echo
echo "| path | calls/s | p50 (ms) | p99 (ms) | failed |"
echo "|---|---|---|---|---|"
for t in "direct 127.0.0.1:$GRPC" "router 127.0.0.1:$ROUTER" "nginx 127.0.0.1:$NGINX" \
	"router_tls 127.0.0.1:$ROUTER_TLS $TMP/cert.pem" "nginx_tls 127.0.0.1:$NGINX_TLS $TMP/cert.pem"; do
	set -- $t
	ca=()
	[ -n "${3:-}" ] && ca=(-ca "$3")
	read -r rps p50 p99 bad < <("$TMP/load" -addr "$2" -c "$C" -d "${D}s" "${ca[@]}")
	echo "| $1 | $rps | $p50 | $p99 | $bad |"
done

# wrk over HTTPS: rps and p99.
bench() {
	wrk -t2 -c64 -d2s "$1" >/dev/null
	wrk -t2 -c64 -d"${D}s" --latency "$1" | awk '
		/Requests\/sec:/ { rps = $2 }
		$1 == "99%" {
			v = $2
			if (v ~ /us$/) { sub(/us$/, "", v); p99 = v / 1000 }
			else if (v ~ /ms$/) { sub(/ms$/, "", v); p99 = v }
			else if (v ~ /s$/) { sub(/s$/, "", v); p99 = v * 1000 }
		}
		/Non-2xx/ { non2xx = $NF }
		END { printf "%.0f %.2f %s\n", rps, p99, (non2xx == "" ? 0 : non2xx) }'
}
echo
echo "HTTPS (HTTP/1.1, keep-alive), wrk -t2 -c64 -d${D}s, same certificate:"
echo
echo "| path | req/s | p99 (ms) | non-2xx |"
echo "|---|---|---|---|"
for t in "router https://127.0.0.1:$ROUTER_TLS/v1/m/predict" "nginx https://127.0.0.1:$NGINX_TLS/v1/m/predict"; do
	set -- $t
	read -r rps p99 bad < <(bench "$2")
	echo "| $1 | $rps | $p99 | $bad |"
done
