#!/usr/bin/env bash
# Reconciler speed: webhook -> traffic, failing measurement -> traffic
# restored, traffic restored -> revert commit on the remote, and one full
# reconcile pass over 1,000 models with the daemon's steady-state heap.
# Everything runs on 127.0.0.1 (a git http-backend server, the builtin
# router, example models). Results go to stdout; copy them into
# bench/RESULTS.md with the machine and date.
set -euo pipefail
cd "$(dirname "$0")/../.."
go version
nproc
go test -run XXX -bench 'BenchmarkWebhookToTraffic' -benchtime 20x ./pkg/wiring/
go test -run XXX -bench 'BenchmarkRestoredToRevertOnRemote' -benchtime 5x ./pkg/wiring/
go test -run XXX -bench 'BenchmarkFailureToTrafficRestored' -benchtime 50x ./pkg/reconcile/
go test -run XXX -bench 'BenchmarkReconcile1000|BenchmarkFirstPass1000' -benchtime 10x ./pkg/reconcile/
