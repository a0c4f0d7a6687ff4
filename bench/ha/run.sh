#!/usr/bin/env bash
# Fleets and highly available reconcilers (issue 12): a reconcile pass over
# 10,000 models on a fleet of 10 routers with the state in etcd, leader
# failover with real processes (kill -9), restore latency to a 5-replica
# fleet, and one 10,000-route table PUT to a router. Everything runs on
# 127.0.0.1 under temporary directories (etcd 3.4 from Debian's
# etcd-server, git http-backend); every step is bounded by `timeout`.
# Results go to stdout; copy them into bench/RESULTS.md with the machine
# and date.
set -euo pipefail
cd "$(dirname "$0")/../.."
go version
nproc
uptime
etcd --version | head -1
# Child processes log to stderr, into the benchmarks' lines: keep only
# the results.
quiet() { sed -E 's/time=[0-9TZ:.+-]+ level=.*$//' | grep -v '^[[:space:]]*$' || true; }
timeout 900 go test -run '^$' -bench 'BenchmarkHAPass10000Models10Replicas$' -benchtime 5x -timeout 14m ./pkg/wiring/ 2>&1 | quiet
timeout 600 go test -run '^$' -bench 'BenchmarkLeaderFailoverKill9' -benchtime 20x -timeout 9m ./pkg/wiring/ 2>&1 | quiet
timeout 300 go test -run '^$' -bench 'BenchmarkFleetRestore5' -benchtime 200x -timeout 4m ./pkg/targets/ 2>&1 | quiet
timeout 300 go test -run '^$' -bench 'BenchmarkAdminPutTable10000' -benchtime 10x -timeout 4m ./pkg/router/ 2>&1 | quiet
timeout 300 go test -run '^$' -bench 'BenchmarkStatsOneModelOf10000' -benchtime 5x -timeout 4m ./pkg/router/ 2>&1 | quiet
timeout 900 go test -run '^$' -bench 'BenchmarkHAPass10000Models10ReplicasMeasured' -benchtime 3x -timeout 14m ./pkg/wiring/ 2>&1 | quiet
