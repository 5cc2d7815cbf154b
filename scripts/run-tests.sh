#!/usr/bin/env bash
# `pnpm test`: build, typecheck, lint and format check, then every test. Ends with one "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
set -e
node scripts/build.mjs
npx tsc -p tsconfig.json --noEmit
npx eslint .
npx prettier --check .
set +e
mkdir -p dist
npx vitest run --reporter=default --reporter=json --outputFile.json=dist/vitest-report.json "$@"
status=$?
node scripts/test-summary.mjs dist/vitest-report.json || status=1
exit $status
