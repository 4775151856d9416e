#!/usr/bin/env bash
# Builds quayside, then runs the registry, load-balancer, TLS, object-storage and geo-replication benchmarks
# (each when it is built). `bench/run.sh tls [--quick]` (or registry, lb, objects, geo, gc) runs that one only;
# gc (issue 14's garbage-collection benchmarks, on the local PostgreSQL) runs only when asked for. Other arguments (e.g. --quick)
# are passed to each. Exits non-zero if any benchmark failed.
set -uo pipefail
cd "$(dirname "$0")/.."

only=""
case "${1:-}" in
  registry|lb|tls|objects|geo|gc) only="$1"; shift ;;
esac
wanted() { [ -z "$only" ] || [ "$only" = "$1" ]; }

# The build is the native SHA-256 addon then tsc; tsc emits even when some file has type errors, and the
# benchmarks only need their own output to exist.
if ! npm run build --silent; then
  echo "bench/run.sh: the build reported errors (tsc output emitted anyway)" >&2
fi
status=0
if [ "$only" = gc ]; then
  echo "== garbage collection: one pass, store level =="
  node dist/bench/gc-pass.js "$@" || status=1
  echo
  echo "== garbage collection: a pass under push and pull load =="
  node dist/bench/gc-load.js "$@" || status=1
  exit "$status"
fi
for tool in docker-registry wrk; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is not installed (apt-get install $([ "$tool" = docker-registry ] && echo docker-registry || echo wrk))" >&2; exit 1; }
done
if [ ! -f dist/bench/registry-bench.js ] || [ ! -f dist/src/cli/main.js ]; then
  echo "bench/run.sh: the build did not produce dist/bench/registry-bench.js and dist/src/cli/main.js" >&2
  exit 1
fi

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
if wanted objects; then
  # The same Swift (with Keystone and s3api) that the tests start; scripts/test.sh installs it when missing.
  if command -v swift-proxy-server >/dev/null && command -v keystone-manage >/dev/null; then
    echo
    echo "== object-storage benchmark =="
    node dist/bench/object-storage.js "$@" || status=1
  else
    echo "bench/run.sh: Swift or Keystone is not installed (run npm test once, or apt-get install swift swift-proxy swift-object swift-container swift-account memcached keystone): object-storage benchmark skipped" >&2
    status=1
  fi
fi
if wanted geo; then
  # Two Swift clusters (the tests' rigs): replication throughput and the cost of a fallback read.
  if command -v swift-proxy-server >/dev/null && command -v keystone-manage >/dev/null; then
    echo
    echo "== geo-replication benchmark =="
    node dist/bench/geo-replication.js "$@" || status=1
  else
    echo "bench/run.sh: Swift or Keystone is not installed (run npm test once): geo-replication benchmark skipped" >&2
    status=1
  fi
fi
exit "$status"
