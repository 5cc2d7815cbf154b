#!/usr/bin/env bash
# The README's setup+run command: install, build, and run the bundler on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
node scripts/build.mjs
node scripts/run-ts.mjs scripts/make-example.ts examples/quickstart/downloads

# A local docker-registry on 127.0.0.1:5599 stands in for the docker.io/ghcr.io mirror the example
# spec names in sources.registries; it lives in a temp folder and stops when this script ends.
registry_dir=$(mktemp -d)
registry_pid=
trap 'if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null; wait "$registry_pid" 2>/dev/null || true; fi; rm -rf "$registry_dir"' EXIT
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s/data}}\nhttp: {addr: 127.0.0.1:5599}\n' "$registry_dir" > "$registry_dir/config.yml"
docker-registry serve "$registry_dir/config.yml" > "$registry_dir/log" 2>&1 &
registry_pid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/5599) 2>/dev/null && break; sleep 0.1; done
if ! (exec 3<>/dev/tcp/127.0.0.1/5599) 2>/dev/null; then
  echo "the example registry did not start on 127.0.0.1:5599 (is the port taken?):" >&2
  cat "$registry_dir/log" >&2
  exit 1
fi
node scripts/run-ts.mjs scripts/make-example-images.ts 127.0.0.1:5599

mkdir -p out/keys
[ -f out/keys/airgap.key ] || node dist/bundler.mjs keygen --out out/keys/airgap
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000} node dist/bundler.mjs build examples/quickstart/airgap.yaml -o out/bundle.tar --key out/keys/airgap.key --cache-dir out/cache
node dist/bundler.mjs verify out/bundle.tar --pub out/keys/airgap.pub
echo
echo "bundle: $(pwd)/out/bundle.tar   public key: $(pwd)/out/keys/airgap.pub"
