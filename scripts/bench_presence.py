#!/usr/bin/env python3
"""Presence fan-out through real nodes (one node, then three), beside Redis pub/sub doing the same
fan-out and redis-benchmark PUBLISH in the same run. Prints figures, never pass/fail.

`--users` users (sockets spread over the nodes), each the friend of the `--friends` users on each
side of them around a ring (20 friends each by default). This script signs them up and makes the
friendships; `plume bench presence` (a Swift WebSocket client) then opens one socket per user
and, for `--rounds` rounds, every user sets a new status at once (`presence.set`); each change
must reach each friend's socket. Measured: deliveries per second (friend pushes received / time
until the last arrives), the latency from the `presence.set` send to each friend's push
(hdrhistogram p50, p99, max) and the nodes' CPU per delivery.

The peer: one Redis server, each user a subscriber to their friends' channels (one connection
each) and a publisher of their own; every round each user PUBLISHes one message; the same counts
and latencies. Redis keeps nothing per change and knows no friends, no presence owner and no
failover: it is the floor for moving the same messages between the same number of sockets.

    scripts/bench.sh presence [--users 200] [--friends 10] [--rounds 100] [--seconds 120] [--nodes 1 3]

Bounded: at most `--rounds` rounds and `--seconds` seconds per system."""

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
from plumetest import Cluster, free_ports, request, wait_until  # noqa: E402

STATUSES = ["away", "busy", "snooze", "looking_to_play", "looking_to_trade", "online"]


def ensure(module, package):
    try:
        __import__(module)
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def cpu_seconds(pids):
    """User + system CPU time of these processes so far."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def report(name, latencies, expected, elapsed, cpu):
    got = len(latencies)
    print(f"{name}: {got}/{expected} friend pushes in {elapsed:.2f} s: {got / elapsed:,.0f} deliveries/s; "
          f"latency p50 {percentile(latencies, 50) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms, "
          f"max {max(latencies, default=float('nan')) * 1000:.1f} ms; server CPU {cpu * 1e6 / max(got, 1):.1f} µs "
          f"per delivery", flush=True)


def friends_of(index, users, friends):
    return {(index + k) % users for k in range(1, friends + 1)} | {(index - k) % users for k in range(1, friends + 1)}


def plume(cluster, args, nodes):
    """Signs up the users (spread over the nodes), makes the friendships, and runs
    `plume bench presence` against them."""
    pids = [cluster.processes[n].pid for n in nodes]
    users = []
    for i in range(args.users):
        node = nodes[i % len(nodes)]
        name = f"pr{uuid.uuid4().hex[:10]}"
        status, body = request(cluster, node, "POST", "/v1/auth/signup",
                               {"username": name, "email": f"{name}@example.com", "password": "correct horse"},
                               timeout=30)
        assert status == 201, (status, body)
        users.append((body["user"]["id"], body["access_token"], node))
    started = time.monotonic()
    pairs = {(min(i, j), max(i, j)) for i in range(args.users) for j in friends_of(i, args.users, args.friends)}
    for i, j in sorted(pairs):
        for a, b in ((i, j), (j, i)):
            status, body = request(cluster, users[a][2], "POST", f"/v1/friends/{users[b][0]}", token=users[a][1],
                                   timeout=30)
            assert status == 200, (status, body)
    print(f"  {len(pairs)} friendships in {time.monotonic() - started:.1f} s", flush=True)
    file = os.path.join(cluster.dir, "users.json")
    with open(file, "w") as f:
        json.dump({"users": [
            {"id": user_id, "url": cluster.url(node, "/v1/ws").replace("http://", "ws://") + f"?token={token}",
             "friends": [users[j][0] for j in sorted(friends_of(i, args.users, args.friends))]}
            for i, (user_id, token, node) in enumerate(users)]}, f)
    label = f"plume ({len(nodes)} node{'s' if len(nodes) > 1 else ''}, {args.users} users x {2 * args.friends} friends)"
    subprocess.run([os.environ["PLUME_BIN"], "bench", "presence", "--users-file", file, "--rounds", str(args.rounds),
                    "--seconds", str(args.seconds), "--label", label, "--pids", *[str(p) for p in pids]], check=True)


async def redis_peer(port, pid, args):
    import redis.asyncio as redis
    latencies = []
    sent = {}
    subscribers, tasks = [], []

    async def listen(i, pubsub):
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            source, status = message["data"].decode().split(":")
            key = (int(source), status)
            if key in sent:
                latencies.append(time.monotonic() - sent[key])

    for i in range(args.users):
        client = redis.Redis(port=port)
        pubsub = client.pubsub()
        await pubsub.subscribe(*[f"presence:{j}" for j in friends_of(i, args.users, args.friends)])
        subscribers.append((client, pubsub))
        tasks.append(asyncio.create_task(listen(i, pubsub)))
    publishers = [redis.Redis(port=port) for _ in range(args.users)]
    expected_per_round = sum(len(friends_of(i, args.users, args.friends)) for i in range(args.users))
    await asyncio.sleep(1)
    try:
        started = time.monotonic()
        cpu_before = cpu_seconds([pid])
        expected = 0
        for round_ in range(args.rounds):
            status = STATUSES[round_ % len(STATUSES)]
            before = len(latencies)
            sends = []
            for i, publisher in enumerate(publishers):
                sent[(i, status)] = time.monotonic()
                sends.append(publisher.publish(f"presence:{i}", f"{i}:{status}"))
            await asyncio.gather(*sends)
            expected += expected_per_round
            round_deadline = time.monotonic() + 10
            while len(latencies) - before < expected_per_round and time.monotonic() < round_deadline:
                await asyncio.sleep(0.005)
        report(f"redis pub/sub (1 server, same fan-out, {args.rounds} rounds)", latencies, expected,
               time.monotonic() - started, cpu_seconds([pid]) - cpu_before)
    finally:
        for task in tasks:
            task.cancel()
        for client, pubsub in subscribers:
            await pubsub.aclose()
            await client.aclose()
        for publisher in publishers:
            await publisher.aclose()


def redis_benchmark(port, pid, args):
    """redis-benchmark PUBLISH at the same client count, one subscriber reading every message."""
    import redis as redis_sync
    subscriber = redis_sync.Redis(port=port).pubsub()
    subscriber.subscribe("presence")
    total = args.users * 2 * args.friends * args.rounds
    cpu_before = cpu_seconds([pid])
    out = subprocess.run([shutil.which("redis-benchmark"), "-p", str(port), "-c", str(args.users), "-n", str(total),
                          "--csv", "PUBLISH", "presence", "busy"], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds([pid]) - cpu_before
    subscriber.close()
    rows = [line.split(",") for line in out.strip().splitlines()]
    rps = float(rows[-1][1].strip('"'))
    print(f"redis-benchmark PUBLISH (-c {args.users}, one subscriber): {rps:,.0f} publishes/s, "
          f"server CPU {cpu * 1e6 / total:.1f} µs per publish", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--friends", type=int, default=10, help="friends on each side around the ring")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 3], help="cluster sizes to run (1 and/or 3)")
    args = parser.parse_args()
    ensure("redis", "redis")
    for size in args.nodes:
        cluster = Cluster(size, name=f"bench-presence-{size}",
                          gateway={"auth_burst": 100000, "auth_per_minute": 6000000,
                                   "user_writes_burst": 100000, "user_writes_per_minute": 6000000})
        if size == 1:
            # One node: replication 1, as a standalone studio would run it.
            with open(cluster.config) as f:
                text = f.read().replace("replication = 3", "replication = 1")
            with open(cluster.config, "w") as f:
                f.write(text)
        try:
            cluster.start_all()
            for node in cluster.nodes:
                if not wait_until(lambda n=node: request(cluster, n, "GET", "/ready")[0] == 200, timeout=60):
                    raise SystemExit(f"{node} never became ready")
            plume(cluster, args, list(cluster.nodes))
        finally:
            cluster.stop_all()

    redis_dir = tempfile.mkdtemp(prefix="bench-presence-redis-")
    port = free_ports(1)[0]
    server = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--save", "", "--appendonly", "no",
                               "--dir", redis_dir, "--maxclients", "10000"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        asyncio.run(redis_peer(port, server.pid, args))
        redis_benchmark(port, server.pid, args)
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(redis_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
