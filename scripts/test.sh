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
set +e
swift test --skip-build > .build/swift-test.log 2>&1
status=$?
set -e
# Per-test progress lines are noise in CI logs; failures, issues and the summary stay.
awk '/^(◇|↳)/ || /^Test Suite / || /Executed 0 tests/ || /started\.$/ || /^\[[0-9]+\/[0-9]+\]/ { next } /^✔ / && !/^✔ Test run with/ { next } { print }' .build/swift-test.log
if [ "$status" -ne 0 ]; then
    echo "swift test failed with exit code $status" >&2
    exit "$status"
fi

echo "== multi-process tests"
export PLUME_BIN="$PWD/.build/debug/plume"
failed=0
for test in scripts/tests/test_*.py; do
    echo "-- $test"
    python3 "$test" || failed=1
done
exit "$failed"
