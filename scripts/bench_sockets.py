#!/usr/bin/env python3
"""Authenticated WebSockets held by one real node, and its memory per socket (issue 14's target:
under 25 KiB each). Signs up `--users` users, opens `--sockets` sockets spread over them (and over
the source addresses 127.0.0.2-11, so ports do not run short), reads each `welcome`, and samples
the node's VmRSS before and after, with progress every 1,000 sockets. Prints figures, never
pass/fail. Bounded: at most `--sockets` sockets and `--seconds` seconds.

    scripts/bench.sh sockets [--users 50] [--sockets 10000] [--seconds 300]

One Python client holds at most its descriptor limit (20,000 here) of sockets."""

import argparse
import asyncio
import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
from plumetest import Cluster, request, wait_until  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def hold(cluster, tokens, count, seconds, pid):
    import websockets
    port = cluster.nodes["n1"]["http"]
    sources = [f"127.0.0.{i}" for i in range(2, 12)]
    before = rss_kib(pid)
    sockets, started = [], time.monotonic()
    try:
        for index in range(count):
            if time.monotonic() - started > seconds:
                print(f"  stopped at the {seconds} s bound")
                break
            socket_ = await websockets.connect(
                f"ws://127.0.0.1:{port}/v1/ws?token={tokens[index % len(tokens)]}", open_timeout=30,
                max_queue=4, ping_interval=None, local_addr=(sources[index % len(sources)], 0))
            await socket_.recv()  # welcome
            sockets.append(socket_)
            if len(sockets) % 1000 == 0:
                print(f"  {len(sockets)} sockets, {time.monotonic() - started:.1f} s, RSS {rss_kib(pid)} KiB",
                      flush=True)
        opened = time.monotonic() - started
        await asyncio.sleep(2)
        after = rss_kib(pid)
        n = len(sockets)
        print(f"{n} sockets held in {opened:.1f} s ({n / opened:.0f}/s): RSS {before} KiB -> {after} KiB, "
              f"{(after - before) / max(n, 1):.1f} KiB per socket (target < 25)")
    finally:
        for socket_ in sockets:
            await socket_.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--sockets", type=int, default=10000)
    parser.add_argument("--seconds", type=int, default=300)
    args = parser.parse_args()
    try:
        import websockets  # noqa: F401
    except ImportError:
        import subprocess
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "websockets"], check=True)
    cluster = Cluster(1, name="bench-sockets", gateway={"auth_burst": 100000, "auth_per_minute": 6000000})
    try:
        process = cluster.start("n1")
        if not wait_until(lambda: request(cluster, "n1", "GET", "/ready")[0] == 200, timeout=60):
            raise SystemExit("the node never became ready")
        tokens = []
        for _ in range(args.users):
            name = f"ws{uuid.uuid4().hex[:10]}"
            status, body = request(cluster, "n1", "POST", "/v1/auth/signup",
                                   {"username": name, "email": f"{name}@example.com", "password": "correct horse"},
                                   timeout=30)
            assert status == 201, (status, body)
            tokens.append(body["access_token"])
        asyncio.run(hold(cluster, tokens, args.sockets, args.seconds, process.pid))
    finally:
        cluster.stop_all()


if __name__ == "__main__":
    main()
