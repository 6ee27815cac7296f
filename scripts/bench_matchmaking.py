#!/usr/bin/env python3
"""Matchmaking and lobbies through real nodes, beside a Redis matchmaker in the same run. Prints
figures, never pass/fail.

1. One node, `--users` users each holding a socket: `plume bench matchmaking` runs `--rounds`
   rounds in which every user queues a ticket for a game of two (`POST /v1/matchmaking/tickets`)
   at once. Tickets matched per second, the latency from the enqueue that completed a match to
   each player's `match_found` (hdrhistogram p50/p99), the node's CPU per matched ticket. First on
   an empty queue, then on a queue holding `--waiting` tickets that never match these (a started
   lobby's backfill for teams of three: each waits, and each round's matching works beside them).
2. The peer: Redis running a matchmaker as one Lua script (a sorted set by skill; a ticket pairs
   with the nearest waiting one within the window, or waits), driven by `redis-benchmark` with
   random skills: the floor for the same decision without durability, sockets or lobbies.
3. Three nodes: `--lobbies` public lobbies; `--users` users join and leave them in turn for
   `--seconds` (joins and leaves per second), then timed searches across the cluster.

    scripts/bench.sh matchmaking [--users 1000] [--rounds 20] [--waiting 10000] [--lobbies 10000] [--seconds 20]

Bounded: every phase by its rounds and seconds."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
from plumetest import Cluster, free_ports, request, wait_until  # noqa: E402

GATEWAY = {"auth_burst": 100000, "auth_per_minute": 6000000, "user_writes_burst": 100000,
           "user_writes_per_minute": 6000000}


def start(nodes, name):
    cluster = Cluster(nodes, name=name, gateway=GATEWAY,
                      sections={"matchmaking": {"tickets_per_queue_max": 1000000, "interval_ms": 1000},
                                "realtime": {"send_queue_max": 100000}})
    cluster.start_all()
    ready, _ = wait_until(lambda: all(request(cluster, n, "GET", "/ready")[0] == 200 for n in cluster.nodes), 60)
    assert ready, "the cluster did not become ready"
    return cluster


def sign_up(cluster, count, nodes):
    def one(i):
        node = nodes[i % len(nodes)]
        name = f"mm{uuid.uuid4().hex[:10]}"
        for _ in range(20):
            status, body = request(cluster, node, "POST", "/v1/auth/signup",
                                   {"username": name, "email": f"{name}@example.com", "password": "correct horse"},
                                   timeout=30)
            if status == 201:
                return {"id": body["user"]["id"], "token": body["access_token"],
                        "http": f"127.0.0.1:{cluster.nodes[node]['http']}",
                        "ws": cluster.url(node, "/v1/ws").replace("http://", "ws://") + f"?token={body['access_token']}"}
            time.sleep(0.2)  # overloaded: password checks are bounded per node
        raise AssertionError(f"signup: {status} {body}")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4 * len(nodes)) as pool:
        users = list(pool.map(one, range(count)))
    print(f"  {count} users signed up in {time.monotonic() - started:.1f} s", flush=True)
    return users


def post(cluster, user, path, body):
    req_node = next(n for n, v in cluster.nodes.items() if f"127.0.0.1:{v['http']}" == user["http"])
    return request(cluster, req_node, "POST", path, body=body, token=user["token"], timeout=30)


def bench(cluster, users_file, args, *extra):
    pids = [str(p.pid) for p in cluster.processes.values()]
    subprocess.run([os.environ["PLUME_BIN"], "bench", "matchmaking", "--users-file", users_file,
                    "--seconds", str(max(args.seconds, 60)), "--pids", *pids, *extra], check=True)


def matching(args):
    cluster = start(1, "plume-bench-mm")
    try:
        users = sign_up(cluster, args.users, ["n1"])
        file = os.path.join(cluster.dir, "users.json")
        with open(file, "w") as f:
            json.dump({"users": users}, f)
        bench(cluster, file, args, "--queue", "pairs", "--rounds", str(args.rounds),
              "--label", f"plume, 1 node, {args.users} users, empty queue")

        # Tickets that wait: a started lobby's open seats for teams of three, never these pairs.
        started = time.monotonic()
        owners = users[:min(100, len(users))]

        def wait_one(i):
            owner = owners[i % len(owners)]
            status, body = post(cluster, owner, "/v1/lobbies", {"type": "private", "max_members": 4})
            assert status == 201, (status, body)
            status, body = post(cluster, owner, "/v1/matchmaking/tickets",
                                {"queue": "crowded", "count_min": 3, "count_max": 3, "teams": 3, "skill": 1000,
                                 "backfill_lobby_id": body["lobby"]["id"]})
            assert status == 201, (status, body)

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(wait_one, range(args.waiting)))
        status, body = request(cluster, "n1", "GET", "/v1/matchmaking/queues/crowded", token=users[0]["token"])
        print(f"  {body['waiting']} tickets waiting in the queue, queued in {time.monotonic() - started:.1f} s",
              flush=True)
        bench(cluster, file, args, "--queue", "crowded", "--rounds", str(args.rounds),
              "--label", f"plume, 1 node, {args.users} users, {body['waiting']:,} tickets waiting")
    finally:
        cluster.stop_all()


LUA = """
local best, bestd = nil, nil
local skill = tonumber(ARGV[2])
local near = redis.call('ZRANGEBYSCORE', KEYS[1], skill - 100, skill + 100, 'WITHSCORES', 'LIMIT', 0, 16)
for i = 1, #near, 2 do
  local d = math.abs(tonumber(near[i + 1]) - skill)
  if bestd == nil or d < bestd then best, bestd = near[i], d end
end
if best then
  redis.call('ZREM', KEYS[1], best)
  redis.call('PUBLISH', 'match:' .. best, ARGV[1])
  redis.call('PUBLISH', 'match:' .. ARGV[1], best)
  return best
end
redis.call('ZADD', KEYS[1], skill, ARGV[1])
return false
"""


def redis_peer(args):
    server = shutil.which("redis-server")
    if not server:
        print("redis: redis-server not installed (apt-get install redis-server); skipped")
        return
    port = free_ports(1)[0]
    process = subprocess.Popen([server, "--port", str(port), "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0,
                   10)
        sha = subprocess.run(["redis-cli", "-p", str(port), "SCRIPT", "LOAD", LUA], capture_output=True,
                             text=True, check=True).stdout.strip()
        count = args.users * args.rounds
        # A ticket id and a skill per call (__rand_int__: 0..999999, so skills spread; 1 in 10 near).
        out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(count), "-c", "50", "-r", "2000",
                              "EVALSHA", sha, "1", "queue", "t__rand_int__", "__rand_int__"],
                             capture_output=True, text=True, timeout=300).stdout
        summary = [line for line in out.splitlines() if "requests per second" in line or "p50=" in line]
        waiting = subprocess.run(["redis-cli", "-p", str(port), "ZCARD", "queue"], capture_output=True,
                                 text=True).stdout.strip()
        print(f"redis Lua matchmaker (EVALSHA, 50 clients, {count} tickets, {waiting} left waiting): "
              + " | ".join(s.strip() for s in summary[-2:]), flush=True)
    finally:
        process.terminate()
        process.wait(10)


def lobbies(args):
    cluster = start(3, "plume-bench-lobbies")
    try:
        users = sign_up(cluster, min(args.users, 300), ["n1", "n2", "n3"])
        started = time.monotonic()

        def create(i):
            owner = users[i % len(users)]
            status, body = post(cluster, owner, "/v1/lobbies",
                                {"type": "public", "max_members": 8, "data": {"mode": "ctf", "level": str(i % 100)}})
            assert status == 201, (status, body)
            return body["lobby"]["id"]

        with ThreadPoolExecutor(max_workers=16) as pool:
            ids = list(pool.map(create, range(args.lobbies)))
        print(f"  {len(ids)} lobbies created in {time.monotonic() - started:.1f} s", flush=True)
        file = os.path.join(cluster.dir, "lobbies.json")
        with open(file, "w") as f:
            json.dump({"users": users, "lobbies": ids}, f)
        bench(cluster, file, args, "--mode", "lobbies", "--rounds", str(args.seconds), "--searches", "2000",
              "--label", f"plume, 3 nodes, {len(ids):,} lobbies")
    finally:
        cluster.stop_all()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--waiting", type=int, default=10000)
    parser.add_argument("--lobbies", type=int, default=10000)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    matching(args)
    redis_peer(args)
    lobbies(args)


if __name__ == "__main__":
    main()
