#!/usr/bin/env bash
# Starts and manages a local Plume cluster on loopback.
#
#   scripts/cluster.sh up [-n N] [-c FILE]   start the nodes of cluster.conf (or N generated nodes) and wait for /ready
#   scripts/cluster.sh status                 one line per node: pid, state, and `plume status` of the first live node
#   scripts/cluster.sh kill NODE              kill -9 one node
#   scripts/cluster.sh stop NODE              SIGTERM one node (graceful leave)
#   scripts/cluster.sh restart NODE           start a killed or stopped node again
#   scripts/cluster.sh down                   SIGTERM every node and wait for them to exit
#
# Logs, pid files and the config in use live in the run directory ($PLUME_RUN_DIR, default .run/cluster).
# The binary is $PLUME_BIN, else .build/release/plume, else .build/debug/plume.
set -euo pipefail
cd "$(dirname "$0")/.."

run_dir=${PLUME_RUN_DIR:-.run/cluster}
bin=${PLUME_BIN:-}
if [ -z "$bin" ]; then
    if [ -x .build/release/plume ]; then bin=.build/release/plume; else bin=.build/debug/plume; fi
fi
[ -x "$bin" ] || { echo "cluster.sh: no plume binary at $bin (run scripts/setup.sh)" >&2; exit 1; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

# Node ids and HTTP addresses, from the config in use, as "id http" lines.
nodes() {
    awk '/^\[\[node\]\]/ { id = ""; http = "" }
         /^id *=/ { gsub(/"/, "", $3); id = $3 }
         /^http *=/ { gsub(/"/, "", $3); http = $3; if (id != "") print id, http }' "$run_dir/cluster.conf"
}

http_of() { nodes | awk -v id="$1" '$1 == id { print $2 }'; }

pid_of() { [ -f "$run_dir/$1.pid" ] && cat "$run_dir/$1.pid" || true; }

is_running() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

start_node() {
    local id=$1
    if is_running "$id"; then echo "$id already running (pid $(pid_of "$id"))"; return; fi
    (cd "$run_dir" && exec "$bin" node --config cluster.conf --node "$id" >>"$id.log" 2>&1) &
    echo $! >"$run_dir/$id.pid"
    echo "started $id (pid $!)"
}

wait_ready() {
    local id=$1 http deadline
    http=$(http_of "$id")
    deadline=$((SECONDS + 30))
    until curl -fsS "http://$http/ready" >/dev/null 2>&1; do
        if ! is_running "$id"; then echo "$id exited; see $run_dir/$id.log" >&2; tail -5 "$run_dir/$id.log" >&2; return 1; fi
        if ((SECONDS > deadline)); then echo "$id not ready after 30 s" >&2; return 1; fi
        sleep 0.1
    done
    echo "$id ready on http://$http"
}

generate() {
    local count=$1 i
    {
        echo '[cluster]'
        echo 'name = "plume-local"'
        echo 'secret = "dev-only-secret"'
        echo 'shards = 256'
        echo "replication = $((count < 3 ? count : 3))"
        echo 'data_dir = "data"'
        echo 'seeds = ["127.0.0.1:7101", "127.0.0.1:7102"]'
        for ((i = 1; i <= count; i++)); do
            printf '\n[[node]]\nid = "n%d"\ncluster = "127.0.0.1:%d"\nhttp = "127.0.0.1:%d"\n' "$i" $((7100 + i)) $((8100 + i))
        done
    } >"$run_dir/cluster.conf"
}

command=${1:-}
[ -n "$command" ] || usage
shift

case "$command" in
up)
    count="" config=cluster.conf
    while getopts "n:c:" option; do
        case $option in
        n) count=$OPTARG ;;
        c) config=$OPTARG ;;
        *) usage ;;
        esac
    done
    mkdir -p "$run_dir"
    if [ -n "$count" ]; then
        [[ "$count" =~ ^[0-9]+$ ]] && ((count >= 1 && count <= 50)) || { echo "-n takes 1..50" >&2; exit 2; }
        generate "$count"
    else
        cp "$config" "$run_dir/cluster.conf"
    fi
    for id in $(nodes | awk '{ print $1 }'); do start_node "$id"; done
    for id in $(nodes | awk '{ print $1 }'); do wait_ready "$id"; done
    ;;
status)
    [ -f "$run_dir/cluster.conf" ] || { echo "no cluster in $run_dir"; exit 1; }
    first=""
    while read -r id http; do
        if is_running "$id"; then
            echo "$id pid $(pid_of "$id") http://$http running"
            [ -n "$first" ] || first=$http
        else
            echo "$id not running"
        fi
    done < <(nodes)
    [ -z "$first" ] || "$bin" status --url "http://$first"
    ;;
kill)
    id=${1:?node id}
    is_running "$id" || { echo "$id is not running" >&2; exit 1; }
    kill -9 "$(pid_of "$id")"
    echo "killed $id (kill -9)"
    ;;
stop)
    id=${1:?node id}
    is_running "$id" || { echo "$id is not running" >&2; exit 1; }
    kill -TERM "$(pid_of "$id")"
    echo "stopping $id (SIGTERM)"
    ;;
restart)
    id=${1:?node id}
    [ -n "$(http_of "$id")" ] || { echo "no node $id in $run_dir/cluster.conf" >&2; exit 1; }
    if is_running "$id"; then kill -TERM "$(pid_of "$id")"; while is_running "$id"; do sleep 0.1; done; fi
    start_node "$id"
    wait_ready "$id"
    ;;
down)
    [ -f "$run_dir/cluster.conf" ] || exit 0
    for id in $(nodes | awk '{ print $1 }'); do
        if is_running "$id"; then kill -TERM "$(pid_of "$id")"; fi
    done
    for id in $(nodes | awk '{ print $1 }'); do
        deadline=$((SECONDS + 15))
        while is_running "$id" && ((SECONDS < deadline)); do sleep 0.1; done
        if is_running "$id"; then kill -9 "$(pid_of "$id")"; echo "$id did not stop in 15 s: killed"; else echo "$id stopped"; fi
        rm -f "$run_dir/$id.pid"
    done
    ;;
*) usage ;;
esac
