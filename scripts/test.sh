#!/usr/bin/env bash
# The README's test command: install what the tests need, then run them all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
pnpm test
