#!/usr/bin/env bash
# run.sh [N_MODELS] [RUNS]: times `reconciler validate` with the default
# policies on a generated tree of N_MODELS (default 1000) models, one file
# each, and conftest on the same files with the equivalent policy in
# conftest/switchyard.rego. Runs alternate between the two tools; the
# figures are the median and the fastest of RUNS (default 7) wall times.
#
# conftest is taken from $CONFTEST, else from PATH, else installed with
#   GOBIN=$(mktemp -d) go install github.com/open-policy-agent/conftest@latest
# run from /tmp (outside this module) with GOFLAGS=-mod=mod.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-1000}
runs=${2:-7}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$here/gen.sh" "$work/tree" "$n"
(cd "$root" && go build -o "$work/reconciler" ./cmd/reconciler)

conftest=${CONFTEST:-$(command -v conftest || true)}
if [[ -z $conftest ]]; then
  mkdir -p "$work/bin"
  if (cd /tmp && GOFLAGS=-mod=mod GOBIN="$work/bin" go install github.com/open-policy-agent/conftest@latest); then
    conftest=$work/bin/conftest
  else
    echo "conftest: go install failed (proxy refused?): comparison skipped" >&2
  fi
fi

now() { date +%s.%N; }
stats() { sort -n | awk '{a[NR]=$1} END {printf "median %.3f s, fastest %.3f s", a[int((NR+1)/2)], a[1]}'; }

: > "$work/t.reconciler"
: > "$work/t.conftest"
for ((i = 0; i < runs; i++)); do
  t0=$(now)
  "$work/reconciler" validate --repo "$work/tree" --policies "$root/policies" > "$work/out.reconciler" || true
  t1=$(now)
  echo "$t1 - $t0" | bc >> "$work/t.reconciler"
  if [[ -n $conftest ]]; then
    t0=$(now)
    (cd "$work/tree" && "$conftest" test --no-color --parser hcl2 -p "$here/conftest" rollouts/models > "$work/out.conftest") || true
    t1=$(now)
    echo "$t1 - $t0" | bc >> "$work/t.conftest"
  fi
done

r=$(stats < "$work/t.reconciler")
echo "reconciler validate, $n models: $r; $(tail -1 "$work/out.reconciler")"
if [[ -n $conftest ]]; then
  c=$(stats < "$work/t.conftest")
  echo "conftest test --parser hcl2,  $n files:  $c; $(tail -1 "$work/out.conftest")"
  echo "conftest $("$conftest" --version | tr '\n' ' ')"
  paste -d' ' <(sort -n "$work/t.reconciler") <(sort -n "$work/t.conftest") |
    awk '{r[NR]=$1; c[NR]=$2} END {m=int((NR+1)/2); printf "ratio conftest / reconciler: %.1fx (medians), %.1fx (fastest)\n", c[m]/r[m], c[1]/r[1]}'
fi
