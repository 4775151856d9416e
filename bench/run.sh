#!/usr/bin/env bash
# Builds quayside, then runs the registry benchmark, the load-balancer benchmark and the TLS benchmark (each when
# it is built). `bench/run.sh tls [--quick]` (or registry, lb) runs that one only. Other arguments (e.g. --quick)
# are passed to each. Exits non-zero if any benchmark failed.
set -uo pipefail
cd "$(dirname "$0")/.."

only=""
case "${1:-}" in
  registry|lb|tls) only="$1"; shift ;;
esac
wanted() { [ -z "$only" ] || [ "$only" = "$1" ]; }

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
if wanted registry; then
  echo "== registry benchmark =="
  node dist/bench/registry-bench.js "$@" || status=1
fi
if wanted lb; then
  if [ -f dist/bench/lb-bench.js ]; then
    echo
    echo "== load-balancer benchmark =="
    node dist/bench/lb-bench.js "$@" || status=1
  else
    echo "(dist/bench/lb-bench.js not built: load-balancer benchmark skipped)"
  fi
fi
if wanted tls; then
  if [ -f dist/bench/tls.js ]; then
    for tool in curl openssl; do
      command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is not installed (apt-get install $tool): TLS benchmark skipped" >&2; status=1; }
    done
    if command -v curl >/dev/null && command -v openssl >/dev/null; then
      echo
      echo "== TLS benchmark =="
      node dist/bench/tls.js "$@" || status=1
    fi
  else
    echo "(dist/bench/tls.js not built: TLS benchmark skipped)"
  fi
fi
exit "$status"
