#!/usr/bin/env bash
# The reference figure for `plume bench writes`: redis-server with appendfsync always (every write
# fsynced before its reply), SET at 16, 64 and 256 clients, on loopback. Installs redis if missing.
set -euo pipefail
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools >/dev/null
fi
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync always --save '' --daemonize no >"$dir/redis.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "redis-server appendfsync always, SET, 20000 requests per run:"
for clients in 16 64 256; do
    printf 'clients %4d  ' "$clients"
    redis-benchmark -p "$port" -t set -c "$clients" -n 20000 -q | tr -d '\r' | grep -E 'SET' | sed 's/^.*SET: //'
done
