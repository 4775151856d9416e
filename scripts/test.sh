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
)
missing=()
for tool in "${!DEBIAN_TOOLS[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${DEBIAN_TOOLS[$tool]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test: installing ${missing[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -d node_modules ] || npm ci
npm run build --silent

# The services every machine of ours runs; tests fail loudly when they are unreachable.
echo "test: node $(node --version), $(haproxy -v | head -n 1), $(etcd --version | head -n 1), skopeo $(skopeo --version | awk '{print $3}'), $(podman --version), $(dockerd --version)"

files=$(find dist/test -name '*.test.js' | sort)
node --test --test-concurrency="${TEST_CONCURRENCY:-3}" --test-timeout="${TEST_TIMEOUT_MS:-600000}" $files
