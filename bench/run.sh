#!/usr/bin/env bash
# Builds quayside, then runs the registry benchmark and, when it is built, the load-balancer benchmark.
# Arguments (e.g. --quick) are passed to both. Exits non-zero if either benchmark failed.
set -uo pipefail
cd "$(dirname "$0")/.."

# tsc emits even when some file has type errors; the benchmarks only need their own output to exist.
if ! npx tsc -p tsconfig.json; then
  echo "bench/run.sh: tsc reported type errors (output emitted anyway)" >&2
fi
for tool in docker-registry wrk; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is not installed (apt-get install $([ "$tool" = docker-registry ] && echo docker-registry || echo wrk))" >&2; exit 1; }
done
if [ ! -f dist/bench/registry-bench.js ] || [ ! -f dist/src/cli/main.js ]; then
  echo "bench/run.sh: the build did not produce dist/bench/registry-bench.js and dist/src/cli/main.js" >&2
  exit 1
fi

status=0
echo "== registry benchmark =="
node dist/bench/registry-bench.js "$@" || status=1
if [ -f dist/bench/lb-bench.js ]; then
  echo
  echo "== load-balancer benchmark =="
  node dist/bench/lb-bench.js "$@" || status=1
else
  echo "(dist/bench/lb-bench.js not built: load-balancer benchmark skipped)"
fi
exit "$status"
