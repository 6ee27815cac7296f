#!/usr/bin/env python3
"""Failover figure with real processes: time from kill -9 of the primary of a user's shard to the
first successful (acknowledged, replicated) profile update of that user through a survivor.
3 nodes, replication 3, default [membership] settings. Bounded: PLUME_BENCH_RUNS runs (default 3),
each waiting at most 30 s."""

import json
import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
from plumetest import Cluster, cluster_view, statuses, wait_until  # noqa: E402
from test_chaos_accounts import request  # noqa: E402

M = (1 << 64) - 1


def shard_of(key, shards):
    h = 0xcbf29ce484222325
    for b in key.encode():
        h = ((h ^ b) * 0x100000001b3) & M
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & M
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & M
    h ^= h >> 33
    return h % shards


def main():
    runs = int(os.environ.get("PLUME_BENCH_RUNS", "3"))
    cluster = Cluster(3)
    ids = list(cluster.nodes)
    results = []
    try:
        cluster.start_all()
        for run in range(runs):
            ok, _ = wait_until(lambda: all((statuses(cluster, n) or {}).get(m) == "alive" for n in ids for m in ids), 30)
            assert ok, "cluster did not converge"
            body = None
            for attempt in range(60):
                # A fresh name per attempt: a signup that failed while shards were still electing
                # may have reserved its name already (a retry would then answer 409 forever).
                name = f"failover{run}_{attempt}_{int(time.time())}"
                status, body = request(cluster, "n1", "POST", "/v1/auth/signup",
                                       {"username": name, "email": f"{name}@example.com", "password": "password-1"})
                if status == 201:
                    break
                time.sleep(0.5)
            if status != 201:
                raise SystemExit(f"run {run + 1}: signup kept failing: {status} {body}")
            token, user_id = body["access_token"], body["user"]["id"]
            view = cluster_view(cluster, "n1")
            shard = shard_of(f"user/{user_id}", view["shards"]["count"])
            primary = view["shards"]["table"][shard]["primary"]
            survivor = next(n for n in ids if n != primary)
            cluster.signal(primary, signal.SIGKILL)
            killed = time.monotonic()
            cluster.processes[primary].wait(timeout=5)
            elapsed = None
            while time.monotonic() - killed < 30:
                status, _ = request(cluster, survivor, "PATCH", "/v1/users/me", {"bio": f"after {run}"}, token=token, timeout=3)
                if status == 200:
                    elapsed = time.monotonic() - killed
                    break
                time.sleep(0.02)
            results.append(elapsed)
            print(f"run {run + 1}: killed primary {primary} of shard {shard}; first acknowledged write via {survivor} "
                  f"after {elapsed:.2f} s" if elapsed else f"run {run + 1}: no write within 30 s")
            cluster.start(primary)
    finally:
        cluster.stop_all()
    done = [r for r in results if r is not None]
    if done:
        print(f"kill -9 of a primary -> first successful write on its shard: median {statistics.median(done):.2f} s, "
              f"max {max(done):.2f} s ({len(done)}/{len(results)} runs)")


if __name__ == "__main__":
    main()
