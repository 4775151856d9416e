#!/usr/bin/env bash
# The README's test command (`npm test`): installs what the tests need when it is missing, builds, and
# runs every test (unit, API over real HTTP, the three SQL dialects, HAProxy/etcd integration, e2e with
# skopeo, podman and docker; the docker tests start their own dockerd).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive for real: command -> package.
declare -A DEBIAN_TOOLS=(
  [skopeo]=skopeo [umoci]=umoci [haproxy]=haproxy [etcd]=etcd-server [etcdctl]=etcd-client
  [openssl]=openssl [podman]=podman [dockerd]=docker.io [curl]=curl [jq]=jq
  [mariadb-install-db]=mariadb-server [python3]=python3
  # The web UI's browser tests (test/web/) drive Debian's Chromium through playwright-core.
  [chromium]=chromium
  # The object-storage server (test/helpers/object-storage): Swift, Keystone under uwsgi, memcached.
  [swift-ring-builder]=swift [swift-proxy-server]=swift-proxy [swift-object-server]=swift-object
  [swift-container-server]=swift-container [swift-account-server]=swift-account [memcached]=memcached
  [keystone-manage]=keystone [uwsgi]=uwsgi
)
# Packages without a command of their own: checked by name.
DEBIAN_PACKAGES=(uwsgi-plugin-python3 python3-keystonemiddleware)
missing=()
for tool in "${!DEBIAN_TOOLS[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${DEBIAN_TOOLS[$tool]}")
done
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test: installing ${missing[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  # Where no policy forbids it, the packages start their own keystone (:5000) and memcached (:11211). The
  # tests never use them (their servers are on free ports of their own), but an idle keystone is no use.
  for service in keystone memcached; do
    if [[ " ${missing[*]} " == *" $service "* ]]; then invoke-rc.d "$service" stop >/dev/null 2>&1 || true; fi
  done
fi

[ -d node_modules ] || npm ci
# A devDependency added since node_modules was installed (axe-core for test/web/accessibility) needs npm ci.
node -e "require.resolve('axe-core/axe.min.js')" 2>/dev/null || npm ci
npm run build --silent

# The services every machine of ours runs; tests fail loudly when they are unreachable.
echo "test: node $(node --version), $(haproxy -v | head -n 1), $(etcd --version | head -n 1), skopeo $(skopeo --version | awk '{print $3}'), $(podman --version), $(dockerd --version)"

# One object-storage server (Swift + Keystone + s3api) for the whole run: a cold start takes 35-100 s, too
# long to pay per test file. Its description goes to the tests through QUAYSIDE_OBJECT_STORAGE. A second,
# independent Swift cluster (tempauth + s3api, no Keystone; the other location of the geo-replication tests)
# starts alongside it and goes to them through QUAYSIDE_SECOND_SWIFT. Both are stopped whatever the tests'
# exit code.
object_storage_dir=$(mktemp -d)
object_storage_pids=()
stop_object_storage() {
  for pid in "${object_storage_pids[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$object_storage_dir"
}
trap stop_object_storage EXIT
node dist/test/helpers/object-storage/main.js "$object_storage_dir/object-storage.json" >"$object_storage_dir/server.log" 2>&1 &
object_storage_pids+=($!)
node dist/test/helpers/object-storage/main.js "$object_storage_dir/second-swift.json" --second >"$object_storage_dir/second.log" 2>&1 &
object_storage_pids+=($!)
# wait_for_server <description file> <pid> <log> <variable>: exports the variable once the file exists.
wait_for_server() {
  for _ in $(seq 1 600); do
    [ -f "$1" ] && break
    kill -0 "$2" 2>/dev/null || break
    sleep 0.5
  done
  if [ -f "$1" ]; then
    cat "$3"
    export "$4=$1"
  else
    # The tests that need it then start their own server and fail loudly with the reason; the rest runs.
    echo "test: the object-storage server ($4) did not start:"
    cat "$3"
  fi
}
wait_for_server "$object_storage_dir/object-storage.json" "${object_storage_pids[0]}" "$object_storage_dir/server.log" QUAYSIDE_OBJECT_STORAGE
wait_for_server "$object_storage_dir/second-swift.json" "${object_storage_pids[1]}" "$object_storage_dir/second.log" QUAYSIDE_SECOND_SWIFT

# Every `quayside serve` a test starts runs in one process unless the test asks for workers (test/cluster/ does,
# and checks the multi-process default): ~100 servers start during a run, three files at a time, on 2 cores.
export QUAYSIDE_WORKERS="${QUAYSIDE_WORKERS:-1}"

files=$(find dist/test -name '*.test.js' | sort)
# TAP as the run goes, then every failure again at the end (scripts/failure-summary.mjs), where CI's tail shows it.
node --test --test-concurrency="${TEST_CONCURRENCY:-3}" --test-timeout="${TEST_TIMEOUT_MS:-600000}" \
  --test-reporter=tap --test-reporter-destination=stdout \
  --test-reporter=./scripts/failure-summary.mjs --test-reporter-destination=stdout $files
