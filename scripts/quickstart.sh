#!/usr/bin/env bash
# The README's setup+run command: install, build, and run the bundler on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
node scripts/build.mjs
node scripts/run-ts.mjs scripts/make-example.ts examples/quickstart/downloads

mkdir -p out/keys
[ -f out/keys/airgap.key ] || node dist/bundler.mjs keygen --out out/keys/airgap
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000} node dist/bundler.mjs build examples/quickstart/airgap.yaml -o out/bundle.tar --key out/keys/airgap.key --cache-dir out/cache
node dist/bundler.mjs verify out/bundle.tar --pub out/keys/airgap.pub
echo
echo "bundle: $(pwd)/out/bundle.tar   public key: $(pwd)/out/keys/airgap.pub"
