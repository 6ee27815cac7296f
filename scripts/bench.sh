#!/usr/bin/env bash
# Benchmarks that print figures (never pass/fail). Builds the release binary first.
#   scripts/bench.sh              wire + gossip + membership
#   scripts/bench.sh wire|gossip|membership|writes|failover|recovery|http|sockets|presence|matchmaking [extra args]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product plume >/dev/null
bin=.build/release/plume
what=${1:-all}
[ $# -gt 0 ] && shift
case "$what" in
wire) "$bin" bench wire "$@" ;;
gossip) "$bin" bench gossip "$@" ;;
membership) PLUME_BIN=$PWD/$bin python3 scripts/bench_membership.py "$@" ;;
writes)
    "$bin" bench writes --nodes 1 "$@"
    "$bin" bench writes --nodes 3 --route spread "$@"
    "$bin" bench writes --nodes 3 --route primary "$@"
    scripts/bench_redis.sh
    ;;
failover) PLUME_BIN=$PWD/$bin python3 scripts/bench_failover.py "$@" ;;
recovery) "$bin" bench recovery "$@" ;;
http) PLUME_BIN=$PWD/$bin python3 scripts/bench_http.py "$@" ;;
sockets) PLUME_BIN=$PWD/$bin python3 scripts/bench_sockets.py "$@" ;;
presence) PLUME_BIN=$PWD/$bin python3 scripts/bench_presence.py "$@" ;;
matchmaking) PLUME_BIN=$PWD/$bin python3 scripts/bench_matchmaking.py "$@" ;;
all)
    "$bin" bench wire
    "$bin" bench gossip
    PLUME_BIN=$PWD/$bin python3 scripts/bench_membership.py
    "$bin" bench writes --nodes 1
    "$bin" bench writes --nodes 3 --route spread
    "$bin" bench writes --nodes 3 --route primary
    scripts/bench_redis.sh
    PLUME_BIN=$PWD/$bin python3 scripts/bench_failover.py
    "$bin" bench recovery
    ;;
*)
    echo "usage: scripts/bench.sh [wire|gossip|membership|writes|failover|recovery|http|sockets|presence|matchmaking]" >&2
    exit 2
    ;;
esac
