#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for Plume, then builds it in release mode.
#   scripts/setup.sh              install system packages (only when missing) and build release
#   scripts/setup.sh --deps-only  install system packages only
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for package in libzstd-dev libssl-dev curl python3; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

command -v swift >/dev/null 2>&1 || { echo "setup: swift is not on PATH (Swift 6.2 or later is needed)" >&2; exit 1; }

if [ "${1:-}" = "--deps-only" ]; then exit 0; fi
swift build -c release --product plume
echo "setup: built $(pwd)/.build/release/plume"
