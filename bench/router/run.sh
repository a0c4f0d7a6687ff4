#!/usr/bin/env bash
# Router benchmark: the builtin router against nginx 1.22 and HAProxy 2.6 in
# the same run, on the same tiny Go backends, with wrk -t2 -c64 -d10s:
#   1. a 90/10 split (nginx: upstream weights 9/1, keepalive 128; HAProxy:
#      weights 9/1, nbthread 2, http-reuse always);
#   2. a shadow at 100% with JSON comparison (nginx: mirror, keepalive 128;
#      HAProxy 2.6 has no mirror of its own);
#   3. the latency each adds at a fixed moderate rate (RATE req/s, open loop:
#      bench/router/openloop), against the backend alone at the same rate;
# plus the backend alone as a ceiling. Prints Markdown tables for
# bench/RESULTS.md. Each target runs ROUNDS times, interleaved (router, nginx,
# HAProxy, router, ...), and the median round is reported with the spread,
# so that a noisy neighbour on a shared machine hurts every side alike.
# The latency part runs LAT_ROUNDS short rounds (default 7 of 5 s), each
# target right after the backend alone, and reports the median over the
# rounds and the median of the per-round differences ("added").
# Usage: bench/router/run.sh   (env: DUR=10s ROUNDS=3 RATE=2000 LAT_ROUNDS=7
# LAT_DUR=5s BASE_PORT=19100, and ROUTER_GOGC to set GOGC for the router
# process only; unset by default)
set -euo pipefail
cd "$(dirname "$0")/../.."

DUR=${DUR:-10s}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-2000}
LAT_ROUNDS=${LAT_ROUNDS:-7}
LAT_DUR=${LAT_DUR:-5s}
BASE=${BASE_PORT:-19100}
. bench/router/setup.sh run.sh wrk nginx haproxy curl go
ROUTER_PIPE=$((BASE + 82)) ADMIN_PIPE=$((BASE + 83))
go build -o "$TMP/openloop" ./bench/router/openloop

SWITCHYARD_ROUTER_TOKEN=$TOKEN ${ROUTER_GOGC:+GOGC=$ROUTER_GOGC} "$TMP/reconciler" router --listen "127.0.0.1:$ROUTER" \
	--admin "127.0.0.1:$ADMIN" --routes "$TMP/routes.json" 2>"$TMP/router.log" &
PIDS+=($!)
# The same router with shadow copies pipelined, 8 per write.
SWITCHYARD_ROUTER_TOKEN=$TOKEN ${ROUTER_GOGC:+GOGC=$ROUTER_GOGC} "$TMP/reconciler" router --listen "127.0.0.1:$ROUTER_PIPE" \
	--admin "127.0.0.1:$ADMIN_PIPE" --routes "$TMP/routes.json" --shadow-pipeline 8 2>"$TMP/router-pipe.log" &
PIDS+=($!)
start_nginx_haproxy

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
wait_up "http://127.0.0.1:$V1/"
wait_up "http://127.0.0.1:$ROUTER/v1/m/predict"
wait_up "http://127.0.0.1:$ROUTER_PIPE/v1/m/predict"
wait_up "http://127.0.0.1:$NGINX_SPLIT/v1/m/predict"
wait_up "http://127.0.0.1:$NGINX_MIRROR/v1/s/predict"
wait_up "http://127.0.0.1:$HAPROXY_SPLIT/v1/m/predict"

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
	"haproxy_split http://127.0.0.1:$HAPROXY_SPLIT/v1/m/predict"
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
# At a fixed moderate rate: the latency of each, open loop, interleaved.
lat_targets=(
	"direct http://127.0.0.1:$V1/predict"
	"router http://127.0.0.1:$ROUTER/v1/m/predict"
	"nginx http://127.0.0.1:$NGINX_SPLIT/v1/m/predict"
	"haproxy http://127.0.0.1:$HAPROXY_SPLIT/v1/m/predict"
)
for round in $(seq "$LAT_ROUNDS"); do
	for t in "${lat_targets[@]}"; do
		set -- $t
		"$TMP/openloop" -url "$2" -rate "$RATE" -d "$LAT_DUR" -c 64 >>"$TMP/lat_$1.rounds"
	done
done

# median NAME: the round with the median req/s, as "rps p99 non2xx".
median() { sort -n "$TMP/$1.rounds" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }
# spread NAME COLUMN: "min–max" of a column over the rounds.
spread() { awk -v c="$2" 'NR == 1 || $c < lo { lo = $c } NR == 1 || $c > hi { hi = $c } END { printf "%s–%s", lo, hi }' "$TMP/$1.rounds"; }
# latmedian NAME COLUMN: the median over the rounds of one openloop column.
latmedian() { awk -v c="$2" '{ print $c }' "$TMP/lat_$1.rounds" | sort -n | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }
# latadded NAME COLUMN: the median over the rounds of NAME's column minus
# the backend alone's in the same round.
latadded() {
	paste -d' ' "$TMP/lat_$1.rounds" "$TMP/lat_direct.rounds" | awk -v c="$2" '{ printf "%.3f\n", $c - $(c + 10) }' |
		sort -n | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}
read -r direct_rps direct_p99 direct_bad < <(median direct)
read -r router_rps router_p99 router_bad < <(median router_split)
read -r nginx_rps nginx_p99 nginx_bad < <(median nginx_split)
read -r haproxy_rps haproxy_p99 haproxy_bad < <(median haproxy_split)
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

echo "Command: \`bench/router/run.sh\` (wrk -t2 -c64 -d$DUR --latency, 2 s warm-up each, median of $ROUNDS interleaved rounds; open loop at $RATE req/s, $LAT_ROUNDS rounds of $LAT_DUR, 1 s warm-up), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(go version | cut -d' ' -f3), $(nginx -v 2>&1 | cut -d' ' -f3), HAProxy $(haproxy -v | head -1 | cut -d' ' -f3), load average before: $LOAD_BEFORE"
echo
echo "| target | req/s (median) | req/s spread | p99 ms (median round) | p99 spread | non-2xx | vs nginx | vs HAProxy |"
echo "|---|---|---|---|---|---|---|---|"
echo "| backend alone (ceiling) | $direct_rps | $(spread direct 1) | $direct_p99 | $(spread direct 2) | $direct_bad | | |"
echo "| builtin router, 90/10 split | $router_rps | $(spread router_split 1) | $router_p99 | $(spread router_split 2) | $router_bad | $(ratio "$router_rps" "$nginx_rps")× req/s, $(ratio "$router_p99" "$nginx_p99")× p99 | $(ratio "$router_rps" "$haproxy_rps")× req/s, $(ratio "$router_p99" "$haproxy_p99")× p99 |"
echo "| nginx, 90/10 split, keepalive 128 | $nginx_rps | $(spread nginx_split 1) | $nginx_p99 | $(spread nginx_split 2) | $nginx_bad | | |"
echo "| HAProxy, 90/10 split, nbthread 2, http-reuse always | $haproxy_rps | $(spread haproxy_split 1) | $haproxy_p99 | $(spread haproxy_split 2) | $haproxy_bad | | |"
echo "| builtin router, shadow 100% + JSON compare | $rshadow_rps | $(spread router_shadow 1) | $rshadow_p99 | $(spread router_shadow 2) | $rshadow_bad | $(ratio "$rshadow_rps" "$nmirror_rps")× req/s, $(ratio "$rshadow_p99" "$nmirror_p99")× p99 | |"
echo "| builtin router, shadow 100% + JSON compare, --shadow-pipeline 8 | $rpipe_rps | $(spread router_pipe 1) | $rpipe_p99 | $(spread router_pipe 2) | $rpipe_bad | $(ratio "$rpipe_rps" "$nmirror_rps")× req/s, $(ratio "$rpipe_p99" "$nmirror_p99")× p99 | |"
echo "| nginx mirror 100%, keepalive 128 | $nmirror_rps | $(spread nginx_mirror 1) | $nmirror_p99 | $(spread nginx_mirror 2) | $nmirror_bad | | |"
echo
echo "req/s of every round: router split $(all_rounds router_split); nginx split $(all_rounds nginx_split); HAProxy split $(all_rounds haproxy_split); router shadow $(all_rounds router_shadow); router shadow pipelined $(all_rounds router_pipe); nginx mirror $(all_rounds nginx_mirror)."
echo
echo "Builtin shadow during its first round: $shadow_line."
echo
echo "Pipelined builtin shadow during its first round: $pipe_line."
echo
echo "At $RATE req/s, open loop (latency from each request's due time; medians over $LAT_ROUNDS rounds; added: the median over the rounds of the target minus the backend alone in the same round):"
echo
echo "| target | p50 ms | p90 ms | p99 ms | p99.9 ms | added p50 ms | added p99 ms | errors | late sends |"
echo "|---|---|---|---|---|---|---|---|---|"
for t in direct router nginx haproxy; do
	p50=$(latmedian $t 5) p90=$(latmedian $t 6) p99=$(latmedian $t 7) p999=$(latmedian $t 8)
	added50=$(latadded $t 5) added99=$(latadded $t 7)
	errs=$(awk '{ s += $3 } END { print s }' "$TMP/lat_$t.rounds") late=$(awk '{ s += $4 } END { print s }' "$TMP/lat_$t.rounds")
	echo "| $t | $p50 | $p90 | $p99 | $p999 | $added50 | $added99 | $errs | $late |"
done
echo
for col in 5 7; do
	name=p50
	[ "$col" = 7 ] && name=p99
	echo "$name ms of every open-loop round: $(for t in direct router nginx haproxy; do printf '%s %s; ' "$t" "$(awk -v c="$col" '{ printf "%s%s", (NR > 1 ? ", " : ""), $c }' "$TMP/lat_$t.rounds")"; done)"
	echo
done
