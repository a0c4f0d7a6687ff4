#!/usr/bin/env bash
# Where the whole machine's time goes per request, for the builtin router,
# nginx 1.22 and HAProxy 2.6 on the same backends as run.sh: CPU time per
# request of wrk, of the backends and of the proxy (from /proc), the rest
# of the busy time (interrupts, other processes), and the share of time
# the CPUs sat idle. On a machine where wrk, the proxy and the backends
# share the cores, req/s is what the machine can do divided by the sum of
# the three, less the idle share: this tells a proxy that costs too much
# from one whose pipeline stalls. Targets run interleaved, ROUNDS times;
# one line per target and round.
#   BASE_BIN=path/to/reconciler adds a router built from another revision,
#   as in percost.sh.
# Usage: bench/router/machine.sh   (env: DUR=5 (seconds) ROUNDS=3 BASE_PORT=19500 BASE_BIN=)
set -euo pipefail
cd "$(dirname "$0")/../.."

DUR=${DUR:-5}
ROUNDS=${ROUNDS:-3}
BASE=${BASE_PORT:-19500}
. bench/router/setup.sh machine.sh wrk nginx haproxy curl go
start_router_and_base
NGINX_PIDS=$(pgrep -d' ' -P "$(cat "$TMP/nginx.pid")")
HAPROXY_PID=$(cat "$TMP/haproxy.pid")
BACKEND_PIDS=$(pgrep -d' ' -f "$TMP/backend")
HZ=$(getconf CLK_TCK)

# ticks PID...: user+system clock ticks of every thread of the processes.
ticks() {
	local s=0 t
	for p in "$@"; do
		for t in /proc/"$p"/task/*/stat; do
			s=$((s + $(awk '{ print $14 + $15 }' "$t" 2>/dev/null || echo 0)))
		done
	done
	echo "$s"
}
# machine: busy and idle ticks of all CPUs.
machine() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }

# measure NAME URL PID...: one round, one line.
measure() {
	local name=$1 url=$2
	shift 2
	wrk -t2 -c64 -d1s "$url" >/dev/null # warm-up: connections, pools
	local b0 p0 b1 p1 busy0 idle0 busy1 idle1 n wu ws
	b0=$(ticks $BACKEND_PIDS)
	p0=$(ticks "$@")
	read -r busy0 idle0 < <(machine)
	/usr/bin/time -f "%U %S" -o "$TMP/wrk.time" wrk -t2 -c64 -d"${DUR}s" "$url" >"$TMP/$name.wrk"
	b1=$(ticks $BACKEND_PIDS)
	p1=$(ticks "$@")
	read -r busy1 idle1 < <(machine)
	n=$(awk '/requests in/ { print $1 }' "$TMP/$name.wrk")
	read -r wu ws <"$TMP/wrk.time"
	awk -v n="$n" -v b=$((b1 - b0)) -v p=$((p1 - p0)) -v busy=$((busy1 - busy0)) -v idle=$((idle1 - idle0)) \
		-v wu="$wu" -v ws="$ws" -v name="$name" -v d="$DUR" -v hz="$HZ" 'BEGIN {
		us = 1e6 / hz / n; w = (wu + ws) * 1e6 / n
		printf "| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f%% |\n", name, n / d, busy * us, w, b * us, p * us, busy * us - w - (b + p) * us, 100 * idle / (busy + idle)
	}'
}

command -v /usr/bin/time >/dev/null || { echo "machine.sh: /usr/bin/time is not installed" >&2; exit 2; }
echo "Command: \`bench/router/machine.sh\` (wrk -t2 -c64 -d${DUR}s, 1 s warm-up, $ROUNDS interleaved rounds), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(go version | cut -d' ' -f3), $(nginx -v 2>&1 | cut -d' ' -f3), HAProxy $(haproxy -v | head -1 | cut -d' ' -f3), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| target | req/s | busy µs/request | wrk | backends | proxy | other | idle |"
echo "|---|---|---|---|---|---|---|---|"
for _ in $(seq "$ROUNDS"); do
	measure router_split "http://127.0.0.1:$ROUTER/v1/m/predict" $ROUTER_PID
	[ -n "${BASE_BIN:-}" ] && measure base_split "http://127.0.0.1:$ROUTER_B/v1/m/predict" $BASE_PID
	measure nginx_split "http://127.0.0.1:$NGINX_SPLIT/v1/m/predict" $NGINX_PIDS
	measure haproxy_split "http://127.0.0.1:$HAPROXY_SPLIT/v1/m/predict" $HAPROXY_PID
	measure router_shadow "http://127.0.0.1:$ROUTER/v1/s/predict" $ROUTER_PID
	[ -n "${BASE_BIN:-}" ] && measure base_shadow "http://127.0.0.1:$ROUTER_B/v1/s/predict" $BASE_PID
	measure nginx_mirror "http://127.0.0.1:$NGINX_MIRROR/v1/s/predict" $NGINX_PIDS
done
