#!/usr/bin/env bash
# Runs every test tier of Plume:
#   1. set-up: system packages Plume needs (scripts/setup.sh --deps-only)
#   2. one debug build of everything, tests included
#   3. unit, simulation and in-process clustered tests (swift test, Swift Testing)
#   4. multi-process tests under scripts/tests/, on loopback, against the same debug build
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --deps-only

echo "== build (debug, with tests)"
swift build --build-tests

echo "== swift test"
swift test --skip-build --parallel 2>&1 | tee .build/swift-test.log | grep -vE '^(◇|↳)|started\.$|passed after' || true
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo "swift test failed ($status)" >&2
    exit "$status"
fi
grep -E "^✔ Test run with|^✘ Test run with" .build/swift-test.log

echo "== multi-process tests"
export PLUME_BIN="$PWD/.build/debug/plume"
failed=0
for test in scripts/tests/test_*.py; do
    echo "-- $test"
    python3 "$test" || failed=1
done
exit "$failed"
