#!/usr/bin/env python3
"""Presence fan-out across three real nodes, beside Redis pub/sub doing the same fan-out in the
same run. Prints figures, never pass/fail.

`--users` users (sockets spread over n1-n3), each the friend of the next `--friends` users around
a ring. Then, for `--rounds` rounds, every user sets a new status at once (`presence.set`); each
change must reach each friend's socket. Measured: changes delivered per second (friend pushes
received / time until the last arrives) and the latency from the `presence.set` send to each
friend's push (p50, p99, max).

The peer: one Redis server, each user a subscriber to their friends' channels (one connection
each) and a publisher of their own; every round each user PUBLISHes one message; the same counts
and latencies. Redis keeps nothing per change and knows no friends, no presence owner and no
failover: it is the floor for moving the same messages between the same number of sockets.

    scripts/bench.sh presence [--users 300] [--friends 10] [--rounds 20] [--seconds 120]

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


async def plume(cluster, args):
    pids = [process.pid for process in cluster.processes.values()]
    import websockets
    users = []
    for i in range(args.users):
        node = f"n{i % 3 + 1}"
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

    index_of = {user[0]: i for i, user in enumerate(users)}
    sent = {}
    latencies = []
    expected_per_round = sum(len(friends_of(i, args.users, args.friends)) for i in range(args.users))

    async def reader(i, socket_):
        async for raw in socket_:
            frame = json.loads(raw)
            if frame.get("push") != "presence":
                continue
            data = frame["data"]
            source = index_of.get(data["user_id"])
            if source is None or source == i:
                continue
            key = (source, data["status"])
            if key in sent:
                latencies.append(time.monotonic() - sent[key])

    sockets = []
    for i, (user_id, token, node) in enumerate(users):
        url = cluster.url(node, "/v1/ws").replace("http://", "ws://") + f"?token={token}"
        socket_ = await websockets.connect(url, open_timeout=30, max_queue=None, ping_interval=None)
        await socket_.recv()  # welcome
        sockets.append(socket_)
    await asyncio.sleep(2)  # online pushes settle
    readers = [asyncio.create_task(reader(i, s)) for i, s in enumerate(sockets)]
    try:
        deadline = time.monotonic() + args.seconds
        total_started = time.monotonic()
        cpu_before = cpu_seconds(pids)
        expected = 0
        for round_ in range(args.rounds):
            if time.monotonic() > deadline:
                print(f"  stopped at the {args.seconds} s bound")
                break
            status = STATUSES[round_ % len(STATUSES)]
            before = len(latencies)
            for i, socket_ in enumerate(sockets):
                sent[(i, status)] = time.monotonic()
                await socket_.send(json.dumps({"op": "presence.set", "id": round_, "data": {"status": status}}))
            expected += expected_per_round
            round_deadline = time.monotonic() + 10
            while len(latencies) - before < expected_per_round and time.monotonic() < round_deadline:
                await asyncio.sleep(0.005)
        report(f"plume (3 nodes, {args.users} users x {2 * args.friends} friends, {args.rounds} rounds)",
               latencies, expected, time.monotonic() - total_started, cpu_seconds(pids) - cpu_before)
    finally:
        for task in readers:
            task.cancel()
        for socket_ in sockets:
            await socket_.close()


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--friends", type=int, default=5, help="friends on each side around the ring")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=120)
    args = parser.parse_args()
    ensure("websockets", "websockets")
    ensure("redis", "redis")
    cluster = Cluster(3, name="bench-presence",
                      gateway={"auth_burst": 100000, "auth_per_minute": 6000000,
                               "user_writes_burst": 100000, "user_writes_per_minute": 6000000})
    try:
        cluster.start_all()
        for node in cluster.nodes:
            if not wait_until(lambda n=node: request(cluster, n, "GET", "/ready")[0] == 200, timeout=60):
                raise SystemExit(f"{node} never became ready")
        asyncio.run(plume(cluster, args))
    finally:
        cluster.stop_all()

    redis_dir = tempfile.mkdtemp(prefix="bench-presence-redis-")
    port = free_ports(1)[0]
    server = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--save", "", "--appendonly", "no",
                               "--dir", redis_dir, "--maxclients", "10000"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        asyncio.run(redis_peer(port, server.pid, args))
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(redis_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
