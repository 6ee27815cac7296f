#!/usr/bin/env python3
"""No stale read from a deposed primary (real `plume node` processes).

3 nodes, replication 3. A user's profile is written; the primary of the user's shard is paused
with SIGSTOP; a newer value is written (and acknowledged) through another node, which needs a
new primary; the old primary is asked for the profile while it is still paused (its kernel queues
the requests) and at once after SIGCONT. It believes it still leads, with the old value in its state: it must never answer that
value (the new one, or an error while it finds out, are both right). Three rounds, each bounded
in time."""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import (Cluster, cluster_view, placement_shard, request, run_on_cluster, statuses,  # noqa: E402
                       wait_until)

ROUNDS = 3
READS = 4  # per round: sent while paused, and again at once after
SHARDS = 64  # plumetest.Cluster's `shards`


def primary_of(cluster, node, key):
    view = cluster_view(cluster, node)
    if not view:
        return None
    shard = placement_shard(key, SHARDS)
    return next((s["primary"] for s in view["shards"]["table"] if s["shard"] == shard), None)


def write_bio(cluster, nodes, token, value, timeout):
    """PATCHes the bio through `nodes` in turn until one acknowledges it; returns whether one did."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while time.monotonic() < deadline:
        node = nodes[attempt % len(nodes)]
        attempt += 1
        status, body = request(cluster, node, "PATCH", "/v1/users/me", {"bio": value}, token=token, timeout=6.0)
        if status == 200 and body.get("bio") == value:
            return True
        time.sleep(0.2)
    return False


def read_me(cluster, node, token, round_, answers):
    status, body = request(cluster, node, "GET", "/v1/users/me", token=token, timeout=10.0)
    bio = body.get("bio") if status == 200 and isinstance(body, dict) else None
    answers.append((round_, node, status, bio))


def converged(cluster):
    ids = list(cluster.nodes)
    return all((statuses(cluster, n) or {}).get(m) == "alive" for n in ids for m in ids)


def test_a_resumed_primary_never_answers_its_old_state(cluster):
    cluster.start_all()
    ids = list(cluster.nodes)
    ok, _ = wait_until(lambda: converged(cluster), 30.0)
    assert ok, "the cluster did not converge"
    ok, _ = wait_until(lambda: request(cluster, "n1", "POST", "/v1/auth/login",
                                       {"username": "nobody", "password": "x" * 8})[0] == 401, 30.0, interval=0.5)
    assert ok, "accounts never became available"
    status, body = request(cluster, "n1", "POST", "/v1/auth/signup",
                           {"username": "stale_reader", "email": "stale@example.com", "password": "password-stale"})
    assert status == 201, f"signup: {status} {body}"
    token, key = body["access_token"], "user/" + body["user"]["id"]
    answers = []
    for round_ in range(ROUNDS):
        old, new = f"old-{round_}", f"new-{round_}"
        assert write_bio(cluster, ids, token, old, 30.0), f"round {round_}: the old value was never acknowledged"
        primary, _ = wait_until(lambda: primary_of(cluster, "n1", key), 10.0)
        assert primary, f"round {round_}: no primary for {key}"
        others = [n for n in ids if n != primary]
        cluster.signal(primary, signal.SIGSTOP)
        reads = []
        try:
            # The others declare it dead, a new primary takes the shard and acknowledges the write.
            acked = write_bio(cluster, others, token, new, 40.0)
            # Reads sent while it is still paused (its kernel queues them) race with what the
            # cluster tells it once it resumes; more follow at once after it resumes.
            reads = [threading.Thread(target=read_me, args=(cluster, primary, token, round_, answers))
                     for _ in range(READS)]
            for thread in reads:
                thread.start()
            time.sleep(0.3)
        finally:
            cluster.signal(primary, signal.SIGCONT)
        for _ in range(READS):
            read_me(cluster, primary, token, round_, answers)
        for thread in reads:
            thread.join(timeout=15)
        assert acked, f"round {round_}: the write through {others} was never acknowledged"
        mine = [a for a in answers if a[0] == round_]
        assert len(mine) == 2 * READS, f"round {round_}: {len(mine)} of {2 * READS} reads came back"
        stale = [a for a in mine if a[3] == old]
        assert not stale, f"round {round_}: {primary} answered the value it held before it was paused ({old}) " \
                          f"{len(stale)} times"
        wrong = [a for a in mine if a[2] == 200 and a[3] != new]
        assert not wrong, f"round {round_}: {primary} answered {wrong}"
        ok, _ = wait_until(lambda: converged(cluster), 40.0, interval=0.5)
        assert ok, f"round {round_}: the cluster did not converge after {primary} resumed"
    fresh = sum(1 for a in answers if a[2] == 200)
    print(f"  {len(answers)} reads at resumed primaries: {fresh} answered the new value, "
          f"{len(answers) - fresh} refused while they found out ({sorted({a[2] for a in answers}, key=str)})")


def main():
    return run_on_cluster(Cluster(3, name="plume-stale-read"), [
        ("a resumed primary never answers its old state", test_a_resumed_primary_never_answers_its_old_state),
    ])


if __name__ == "__main__":
    sys.exit(main())
