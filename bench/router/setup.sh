# Shared setup of the router benchmarks (run.sh, percost.sh), sourced from
# the repository's root with BASE set to the first port: the ports, a
# temporary directory removed on exit with everything started, the
# reconciler and the backend built, the nginx, HAProxy and routes
# configurations written from their templates, the three backends started.
# Arguments: the script's name (for messages), then the tools it needs.
# Afterwards: start_nginx_haproxy, wait_up URL, start_router_and_base, and
# PIDS for more processes to stop on exit.
bench_name=$1
shift
V1=$((BASE + 1)) V2=$((BASE + 2)) V3=$((BASE + 3))
ROUTER=$((BASE + 80)) ADMIN=$((BASE + 81))
NGINX_SPLIT=$((BASE + 181)) NGINX_MIRROR=$((BASE + 182)) HAPROXY_SPLIT=$((BASE + 191))
TOKEN=bench-token

for bin in "$@"; do
	command -v "$bin" >/dev/null || { echo "$bench_name: $bin is not installed" >&2; exit 2; }
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

start_nginx_haproxy() {
	nginx -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/error.log"
	haproxy -q -D -f "$TMP/haproxy.cfg"
}

wait_up() {
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$bench_name: $1 did not come up" >&2
	exit 1
}

# start_router_and_base: the router built here (ROUTER_PID) and, with
# BASE_BIN set, one built from another revision (BASE_PID, on ROUTER_B),
# then nginx and HAProxy, each waited for.
ROUTER_B=$((BASE + 82)) ADMIN_B=$((BASE + 83))
start_router_and_base() {
	SWITCHYARD_ROUTER_TOKEN=$TOKEN "$TMP/reconciler" router --listen "127.0.0.1:$ROUTER" \
		--admin "127.0.0.1:$ADMIN" --routes "$TMP/routes.json" 2>"$TMP/router.log" &
	ROUTER_PID=$!
	PIDS+=($ROUTER_PID)
	if [ -n "${BASE_BIN:-}" ]; then
		SWITCHYARD_ROUTER_TOKEN=$TOKEN "$BASE_BIN" router --listen "127.0.0.1:$ROUTER_B" \
			--admin "127.0.0.1:$ADMIN_B" --routes "$TMP/routes.json" 2>"$TMP/router-base.log" &
		BASE_PID=$!
		PIDS+=($BASE_PID)
	fi
	start_nginx_haproxy
	wait_up "http://127.0.0.1:$V1/"
	wait_up "http://127.0.0.1:$ROUTER/v1/m/predict"
	if [ -n "${BASE_BIN:-}" ]; then wait_up "http://127.0.0.1:$ROUTER_B/v1/m/predict"; fi
	wait_up "http://127.0.0.1:$NGINX_SPLIT/v1/m/predict"
	wait_up "http://127.0.0.1:$HAPROXY_SPLIT/v1/m/predict"
}
