#!/usr/bin/env bash
# Router benchmark: the builtin router against nginx 1.22 in the same run,
# on the same tiny Go backends, with wrk -t2 -c64 -d10s:
#   1. a 90/10 split (nginx: upstream weights 9/1, keepalive 128);
#   2. a shadow at 100% with JSON comparison (nginx: mirror, keepalive 128);
# plus the backend alone as a ceiling. Prints a Markdown table for
# bench/RESULTS.md. Each target runs ROUNDS times, interleaved (router, nginx,
# router, nginx, ...), and the median round is reported, so that a noisy
# neighbour on a shared machine hurts both sides alike.
# Usage: bench/router/run.sh   (env: DUR=10s ROUNDS=3 BASE_PORT=19100, and
# ROUTER_GOGC to set GOGC for the router process only; unset by default)
set -euo pipefail
cd "$(dirname "$0")/../.."

DUR=${DUR:-10s}
ROUNDS=${ROUNDS:-3}
BASE=${BASE_PORT:-19100}
V1=$((BASE + 1)) V2=$((BASE + 2)) V3=$((BASE + 3))
ROUTER=$((BASE + 80)) ADMIN=$((BASE + 81)) ROUTER_PIPE=$((BASE + 82)) ADMIN_PIPE=$((BASE + 83))
NGINX_SPLIT=$((BASE + 181)) NGINX_MIRROR=$((BASE + 182))
TOKEN=bench-token

for bin in wrk nginx curl go; do
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
go build -o "$TMP/backend" ./bench/router/backend

subst() {
	sed -e "s|@TMP@|$TMP|g" -e "s|@V1@|$V1|g" -e "s|@V2@|$V2|g" -e "s|@V3@|$V3|g" \
		-e "s|@NGINX_SPLIT@|$NGINX_SPLIT|g" -e "s|@NGINX_MIRROR@|$NGINX_MIRROR|g" "$1"
}
subst bench/router/nginx.conf.tmpl >"$TMP/nginx.conf"
subst bench/router/routes.json.tmpl >"$TMP/routes.json"

for p in $V1 $V2 $V3; do
	"$TMP/backend" -addr "127.0.0.1:$p" 2>>"$TMP/backend.log" &
	PIDS+=($!)
done
SWITCHYARD_ROUTER_TOKEN=$TOKEN ${ROUTER_GOGC:+GOGC=$ROUTER_GOGC} "$TMP/reconciler" router --listen "127.0.0.1:$ROUTER" \
	--admin "127.0.0.1:$ADMIN" --routes "$TMP/routes.json" 2>"$TMP/router.log" &
PIDS+=($!)
# The same router with shadow copies pipelined, 8 per write.
SWITCHYARD_ROUTER_TOKEN=$TOKEN ${ROUTER_GOGC:+GOGC=$ROUTER_GOGC} "$TMP/reconciler" router --listen "127.0.0.1:$ROUTER_PIPE" \
	--admin "127.0.0.1:$ADMIN_PIPE" --routes "$TMP/routes.json" --shadow-pipeline 8 2>"$TMP/router-pipe.log" &
PIDS+=($!)
nginx -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/error.log"

wait_up() {
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "run.sh: $1 did not come up" >&2
	exit 1
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
wait_up "http://127.0.0.1:$V1/"
wait_up "http://127.0.0.1:$ROUTER/v1/m/predict"
wait_up "http://127.0.0.1:$ROUTER_PIPE/v1/m/predict"
wait_up "http://127.0.0.1:$NGINX_SPLIT/v1/m/predict"
wait_up "http://127.0.0.1:$NGINX_MIRROR/v1/s/predict"

# bench NAME URL: wrk with the fixed parameters; prints "rps p99_ms".
bench() {
	wrk -t2 -c64 -d2s "$2" >/dev/null # warm-up: connections, pools
	wrk -t2 -c64 -d"$DUR" --latency "$2" >"$TMP/$1.txt"
	awk '
		/Requests\/sec:/ { rps = $2 }
		$1 == "99%" {
			v = $2
			if (v ~ /us$/) { sub(/us$/, "", v); p99 = v / 1000 }
			else if (v ~ /ms$/) { sub(/ms$/, "", v); p99 = v }
			else if (v ~ /s$/) { sub(/s$/, "", v); p99 = v * 1000 }
		}
		/Non-2xx/ { non2xx = $NF }
		END { printf "%.0f %.2f %s\n", rps, p99, (non2xx == "" ? 0 : non2xx) }
	' "$TMP/$1.txt"
}

targets=(
	"direct http://127.0.0.1:$V1/predict"
	"router_split http://127.0.0.1:$ROUTER/v1/m/predict"
	"nginx_split http://127.0.0.1:$NGINX_SPLIT/v1/m/predict"
	"router_shadow http://127.0.0.1:$ROUTER/v1/s/predict"
	"router_pipe http://127.0.0.1:$ROUTER_PIPE/v1/s/predict"
	"nginx_mirror http://127.0.0.1:$NGINX_MIRROR/v1/s/predict"
)
for round in $(seq "$ROUNDS"); do
	for t in "${targets[@]}"; do
		set -- $t
		bench "$1" "$2" >>"$TMP/$1.rounds"
		if [ "$round" = 1 ] && [ "$1" = router_shadow ]; then
			shadow_stats=$(curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ADMIN/v1/stats?window=${DUR}")
		fi
		if [ "$round" = 1 ] && [ "$1" = router_pipe ]; then
			pipe_stats=$(curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ADMIN_PIPE/v1/stats?window=${DUR}")
		fi
	done
done
# median NAME: the round with the median req/s, as "rps p99 non2xx".
median() { sort -n "$TMP/$1.rounds" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }
read -r direct_rps direct_p99 direct_bad < <(median direct)
read -r router_rps router_p99 router_bad < <(median router_split)
read -r nginx_rps nginx_p99 nginx_bad < <(median nginx_split)
read -r rshadow_rps rshadow_p99 rshadow_bad < <(median router_shadow)
read -r rpipe_rps rpipe_p99 rpipe_bad < <(median router_pipe)
read -r nmirror_rps nmirror_p99 nmirror_bad < <(median nginx_mirror)
all_rounds() { awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }' "$TMP/$1.rounds"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
shadow_summary() {
	python3 -c '
import json, sys
s = json.load(sys.stdin)
for v in s["versions"]:
    if v["model"] == "s" and v["version"] == "v3":
        pairs, agree, dropped = v.get("shadow_pairs", 0), v.get("shadow_agreements", 0), v.get("shadow_dropped", 0)
        total = pairs + dropped
        print("%d copies compared (%d agreed, %d shadow errors), %d dropped by the full queue (%.1f%% compared), shadow p99 %.2f ms" % (
            pairs, agree, v.get("shadow_errors", 0), dropped, 100.0 * pairs / total if total else 0, 1000 * v.get("shadow_latency_p99", 0)))
'
}
shadow_line=$(printf '%s' "$shadow_stats" | shadow_summary)
pipe_line=$(printf '%s' "$pipe_stats" | shadow_summary)

echo "Command: \`bench/router/run.sh\` (wrk -t2 -c64 -d$DUR --latency, 2 s warm-up each, median of $ROUNDS interleaved rounds), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(go version | cut -d' ' -f3), $(nginx -v 2>&1 | cut -d' ' -f3), load average before: $LOAD_BEFORE"
echo
echo "| target | req/s | p99 (ms) | non-2xx | vs nginx |"
echo "|---|---|---|---|---|"
echo "| backend alone (ceiling) | $direct_rps | $direct_p99 | $direct_bad | |"
echo "| builtin router, 90/10 split | $router_rps | $router_p99 | $router_bad | $(ratio "$router_rps" "$nginx_rps")× req/s, $(ratio "$router_p99" "$nginx_p99")× p99 |"
echo "| nginx, 90/10 split, keepalive 128 | $nginx_rps | $nginx_p99 | $nginx_bad | |"
echo "| builtin router, shadow 100% + JSON compare | $rshadow_rps | $rshadow_p99 | $rshadow_bad | $(ratio "$rshadow_rps" "$nmirror_rps")× req/s, $(ratio "$rshadow_p99" "$nmirror_p99")× p99 |"
echo "| builtin router, shadow 100% + JSON compare, --shadow-pipeline 8 | $rpipe_rps | $rpipe_p99 | $rpipe_bad | $(ratio "$rpipe_rps" "$nmirror_rps")× req/s, $(ratio "$rpipe_p99" "$nmirror_p99")× p99 |"
echo "| nginx mirror 100%, keepalive 128 | $nmirror_rps | $nmirror_p99 | $nmirror_bad | |"
echo
echo "req/s of every round: router split $(all_rounds router_split); nginx split $(all_rounds nginx_split); router shadow $(all_rounds router_shadow); router shadow pipelined $(all_rounds router_pipe); nginx mirror $(all_rounds nginx_mirror)."
echo
echo "Builtin shadow during its first round: $shadow_line."
echo
echo "Pipelined builtin shadow during its first round: $pipe_line."
