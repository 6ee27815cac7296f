#!/usr/bin/env bash
# The reference figures for `plume bench writes`, on loopback, SET at 16, 64 and 256 clients:
#  1. one redis-server with appendfsync always (every write fsynced before its reply);
#  2. three such redis-servers benchmarked at once, each by its own 16/64/256 clients: every
#     logical write stored durably three times with no coordination at all — what this machine
#     gives three durable copies (the work of replication 3, without any of its protocol).
# Installs redis if missing.
set -euo pipefail
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools >/dev/null
fi
requests=${PLUME_BENCH_REDIS_REQUESTS:-20000}
work=$(mktemp -d)
servers=()
ports=()
cleanup() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
for index in 1 2 3; do
    mkdir "$work/$index"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$port" --bind 127.0.0.1 --dir "$work/$index" --appendonly yes --appendfsync always \
        --save '' --daemonize no >"$work/$index/redis.log" 2>&1 &
    servers+=($!)
    ports+=("$port")
done
for port in "${ports[@]}"; do
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
set_figure() { tr '\r' '\n' <"$1" | grep -E '^SET: .*per second' | tail -1 | sed 's/^SET: //'; }

echo "redis-server appendfsync always, SET, $requests requests per run:"
for clients in 16 64 256; do
    redis-benchmark -p "${ports[0]}" -t set -c "$clients" -n "$requests" -q >"$work/one" 2>&1
    printf 'clients %4d  %s\n' "$clients" "$(set_figure "$work/one")"
done
echo "three redis-servers at once (appendfsync always), each with its own clients: each write stored three times:"
for clients in 16 64 256; do
    benches=()
    for index in 0 1 2; do
        redis-benchmark -p "${ports[$index]}" -t set -c "$clients" -n "$requests" -q >"$work/three.$index" 2>&1 &
        benches+=($!)
    done
    wait "${benches[@]}"
    printf 'clients %4d each ' "$clients"
    for index in 0 1 2; do printf ' | %s' "$(set_figure "$work/three.$index")"; done
    echo
done
