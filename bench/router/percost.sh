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
. bench/router/setup.sh percost.sh wrk nginx haproxy curl go perf

start_router_and_base
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
