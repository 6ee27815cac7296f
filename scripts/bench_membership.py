#!/usr/bin/env python3
"""Membership figures with real processes on loopback: time from launch until every node sees
every other alive, and from kill -9 of one node until every survivor reports it dead. Default
[membership] settings. Bounded: a few runs per size, each waiting at most 30 s."""

import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
from plumetest import Cluster, statuses, wait_until  # noqa: E402


def measure(size):
    cluster = Cluster(size)
    ids = list(cluster.nodes)
    try:
        start = time.monotonic()
        cluster.start_all()
        everyone_alive = lambda: all(  # noqa: E731
            (s := statuses(cluster, o)) and all(s.get(n) == "alive" for n in ids) for o in ids)
        ok, _ = wait_until(everyone_alive, 30.0, interval=0.01)
        converge = time.monotonic() - start if ok else None
        time.sleep(1.0)
        victim = ids[-1]
        survivors = ids[:-1]
        cluster.signal(victim, signal.SIGKILL)
        start = time.monotonic()
        ok, _ = wait_until(lambda: all((statuses(cluster, o) or {}).get(victim) == "dead" for o in survivors),
                           30.0, interval=0.01)
        detect = time.monotonic() - start if ok else None
        return converge, detect
    finally:
        cluster.stop_all()


def main():
    runs = int(os.environ.get("PLUME_BENCH_RUNS", "3"))
    print(f"plume bench membership: real processes on loopback, default [membership] settings, {runs} runs each")
    for size in (3, 5):
        results = [measure(size) for _ in range(runs)]
        converge = [c for c, _ in results if c is not None]
        detect = [d for _, d in results if d is not None]
        fmt = lambda xs: (f"median {statistics.median(xs):.2f} s, max {max(xs):.2f} s" if xs else "n/a")  # noqa: E731
        print(f"{size} nodes: all alive everywhere after launch: {fmt(converge)}; "
              f"kill -9 -> dead on every survivor: {fmt(detect)}")


if __name__ == "__main__":
    main()
