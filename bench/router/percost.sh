#!/usr/bin/env bash
# What each request costs the proxy itself: CPU time and system calls per
# request of the builtin router, nginx 1.22 and HAProxy 2.6, counted by
# `perf stat` on the proxy's own processes while wrk loads it (wrk -t2 -c64),
# on the same tiny Go backends and configurations as run.sh. On a shared
# machine req/s moves with the neighbours; CPU and calls per request move
# far less, which makes them the better evidence for a change to the hot
# path. Targets run interleaved, ROUNDS times; the median round of each
# column is printed as a Markdown table.
#   BASE_BIN=path/to/reconciler adds a second router built from another
#   revision (for example `git worktree add /tmp/base main && cd /tmp/base
#   && go build -o /tmp/reconciler.base ./cmd/reconciler`), so that before
#   and after are measured side by side.
# Needs perf (linux-perf) with access to the syscalls tracepoints (root, or
# kernel.perf_event_paranoid <= 1).
# Usage: bench/router/percost.sh   (env: DUR=5s ROUNDS=3 BASE_PORT=19300 BASE_BIN=)
set -euo pipefail
cd "$(dirname "$0")/../.."

DUR=${DUR:-5s}
ROUNDS=${ROUNDS:-3}
BASE=${BASE_PORT:-19300}
V1=$((BASE + 1)) V2=$((BASE + 2)) V3=$((BASE + 3))
ROUTER=$((BASE + 80)) ADMIN=$((BASE + 81)) ROUTER_B=$((BASE + 82)) ADMIN_B=$((BASE + 83))
NGINX_SPLIT=$((BASE + 181)) NGINX_MIRROR=$((BASE + 182)) HAPROXY_SPLIT=$((BASE + 191))

for bin in wrk nginx haproxy curl go perf; do
	command -v "$bin" >/dev/null || { echo "percost.sh: $bin is not installed" >&2; exit 2; }
done

TMP=$(mktemp -d)
PIDS=()
cleanup() {
	if [ -f "$TMP/nginx.pid" ]; then kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true; fi
	if [ -f "$TMP/haproxy.pid" ]; then kill "$(cat "$TMP/haproxy.pid")" 2>/dev/null || true; fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

go build -o "$TMP/reconciler" ./cmd/reconciler
go build -o "$TMP/backend" ./bench/router/backend

subst() {
	sed -e "s|@TMP@|$TMP|g" -e "s|@V1@|$V1|g" -e "s|@V2@|$V2|g" -e "s|@V3@|$V3|g" \
		-e "s|@NGINX_SPLIT@|$NGINX_SPLIT|g" -e "s|@NGINX_MIRROR@|$NGINX_MIRROR|g" \
		-e "s|@HAPROXY_SPLIT@|$HAPROXY_SPLIT|g" "$1"
}
subst bench/router/nginx.conf.tmpl >"$TMP/nginx.conf"
subst bench/router/haproxy.cfg.tmpl >"$TMP/haproxy.cfg"
subst bench/router/routes.json.tmpl >"$TMP/routes.json"

for p in $V1 $V2 $V3; do
	"$TMP/backend" -addr "127.0.0.1:$p" 2>>"$TMP/backend.log" &
	PIDS+=($!)
done
SWITCHYARD_ROUTER_TOKEN=bench-token "$TMP/reconciler" router --listen "127.0.0.1:$ROUTER" \
	--admin "127.0.0.1:$ADMIN" --routes "$TMP/routes.json" 2>"$TMP/router.log" &
ROUTER_PID=$!
PIDS+=($ROUTER_PID)
if [ -n "${BASE_BIN:-}" ]; then
	SWITCHYARD_ROUTER_TOKEN=bench-token "$BASE_BIN" router --listen "127.0.0.1:$ROUTER_B" \
		--admin "127.0.0.1:$ADMIN_B" --routes "$TMP/routes.json" 2>"$TMP/router-base.log" &
	BASE_PID=$!
	PIDS+=($BASE_PID)
fi
nginx -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/error.log"
haproxy -q -D -f "$TMP/haproxy.cfg"

wait_up() {
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "percost.sh: $1 did not come up" >&2
	exit 1
}
wait_up "http://127.0.0.1:$V1/"
wait_up "http://127.0.0.1:$ROUTER/v1/m/predict"
[ -n "${BASE_BIN:-}" ] && wait_up "http://127.0.0.1:$ROUTER_B/v1/m/predict"
wait_up "http://127.0.0.1:$NGINX_SPLIT/v1/m/predict"
wait_up "http://127.0.0.1:$HAPROXY_SPLIT/v1/m/predict"
NGINX_PIDS=$(pgrep -d, -P "$(cat "$TMP/nginx.pid")")
HAPROXY_PID=$(cat "$TMP/haproxy.pid")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# Every system call, those of each kind the hot path makes, failed reads
# (EAGAIN: nothing to read yet), CPU time and context switches.
EVENTS=(-e raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,syscalls:sys_enter_getsockopt
	-e syscalls:sys_exit_read --filter "ret < 0" -e syscalls:sys_exit_recvfrom --filter "ret < 0"
	-e task-clock,context-switches)

# measure NAME URL PIDS: one round; appends "cpu_us calls reads eagain writes epoll futex sleep cs rps".
measure() {
	wrk -t2 -c64 -d1s "$2" >/dev/null # warm-up: connections, pools
	perf stat -x, "${EVENTS[@]}" -p "$3" -o "$TMP/$1.perf" -- sleep "${DUR%s}" &
	local sp=$!
	wrk -t2 -c64 -d"$DUR" "$2" >"$TMP/$1.wrk"
	wait "$sp"
	local n rps
	n=$(awk '/requests in/ { print $1 }' "$TMP/$1.wrk")
	rps=$(awk '/Requests\/sec:/ { printf "%.0f", $2 }' "$TMP/$1.wrk")
	awk -F, -v n="$n" -v rps="$rps" '
		/^[0-9]/ {
			v = $1
			if ($3 == "task-clock") cpu = v * 1000 / n # msec -> us per request
			else if ($3 == "context-switches") cs = v / n
			else if ($3 == "raw_syscalls:sys_enter") calls = v / n
			else if ($3 ~ /sys_enter_(read|recvfrom)$/) reads += v / n
			else if ($3 ~ /sys_exit_(read|recvfrom)$/) eagain += v / n
			else if ($3 ~ /sys_enter_(write|writev|sendto)$/) writes += v / n
			else if ($3 ~ /sys_enter_epoll/) epoll += v / n
			else if ($3 ~ /sys_enter_futex$/) futex += v / n
			else if ($3 ~ /sys_enter_nanosleep$/) sleep += v / n
		}
		END { printf "%.2f %.2f %.2f %.2f %.2f %.2f %.2f %.2f %.2f %d\n", cpu, calls, reads, eagain, writes, epoll, futex, sleep, cs, rps }
	' "$TMP/$1.perf" >>"$TMP/$1.rounds"
}

targets=(
	"router_split http://127.0.0.1:$ROUTER/v1/m/predict $ROUTER_PID"
	"nginx_split http://127.0.0.1:$NGINX_SPLIT/v1/m/predict $NGINX_PIDS"
	"haproxy_split http://127.0.0.1:$HAPROXY_SPLIT/v1/m/predict $HAPROXY_PID"
	"router_shadow http://127.0.0.1:$ROUTER/v1/s/predict $ROUTER_PID"
	"nginx_mirror http://127.0.0.1:$NGINX_MIRROR/v1/s/predict $NGINX_PIDS"
)
if [ -n "${BASE_BIN:-}" ]; then
	targets+=("base_split http://127.0.0.1:$ROUTER_B/v1/m/predict $BASE_PID"
		"base_shadow http://127.0.0.1:$ROUTER_B/v1/s/predict $BASE_PID")
fi
for _ in $(seq "$ROUNDS"); do
	for t in "${targets[@]}"; do
		set -- $t
		measure "$1" "$2" "$3"
	done
done

# col NAME N: the median over the rounds of column N.
col() { awk -v c="$2" '{ print $c }' "$TMP/$1.rounds" | sort -n | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }

echo "Command: \`bench/router/percost.sh\` (perf stat on the proxy's processes during wrk -t2 -c64 -d$DUR, 1 s warm-up, medians of $ROUNDS interleaved rounds), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(go version | cut -d' ' -f3), $(nginx -v 2>&1 | cut -d' ' -f3), HAProxy $(haproxy -v | head -1 | cut -d' ' -f3), load average before: $LOAD_BEFORE"
echo
echo "| target | CPU µs/request | system calls/request | reads | of which EAGAIN | writes | epoll | futex | nanosleep | context switches/request | req/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
names=(router_split nginx_split haproxy_split router_shadow nginx_mirror)
[ -n "${BASE_BIN:-}" ] && names+=(base_split base_shadow)
for t in "${names[@]}"; do
	printf "| %s |" "$t"
	for c in 1 2 3 4 5 6 7 8 9 10; do printf " %s |" "$(col "$t" "$c")"; done
	echo
done
