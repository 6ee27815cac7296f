#!/usr/bin/env python3
"""A node that comes back with an emptied data directory never counts toward a quorum for what
it lost (real `plume node` processes).

3 nodes, replication 3. n2 is stopped; users sign up through n1, so each sign-up is on n1 and
n3 only. n3 is killed and its data directory deleted; n1 is killed. n2 (which missed the
sign-ups) and n3 (which lost them) start: together they are a majority of every shard, and if
n3's empty word counted they would serve without the sign-ups. n3 starts recovering instead,
so while n1 is away the shards wait: no acknowledged user is ever unknown (401) and no second
account takes a signed-up name. n1 comes back; n3 recovers from it (`RECOVERING` disappears),
and every user logs in through every node. Bounded in time throughout."""

import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import Cluster, request, run_on_cluster, statuses, wait_until  # noqa: E402

USERS = 6
OUTAGE_SECONDS = 10.0


def converged(cluster, ids):
    return all((statuses(cluster, n) or {}).get(m) == "alive" for n in ids for m in ids)


def login(cluster, node, name, timeout=4.0):
    status, _ = request(cluster, node, "POST", "/v1/auth/login", {"username": name, "password": "password-" + name},
                        timeout=timeout)
    return status


def kill(cluster, node):
    cluster.signal(node, signal.SIGKILL)
    cluster.processes[node].wait(timeout=10)


def test_a_wiped_node_recovers_before_its_word_counts(cluster):
    started = time.monotonic()

    def phase(text):
        print(f"  {time.monotonic() - started:5.1f} s: {text}", flush=True)

    ids = list(cluster.nodes)
    cluster.start_all()
    ok, _ = wait_until(lambda: converged(cluster, ids), 30.0)
    assert ok, "the cluster did not converge"
    data = {n: os.path.join(cluster.dir, "data", n) for n in ids}
    # Every node of a new cluster recovers at once (nobody holds anything); until then a node
    # counts in no majority, and losing another one would stall the shards.
    ok, _ = wait_until(lambda: not any(os.path.exists(os.path.join(data[n], "RECOVERING")) for n in ids), 30.0,
                       interval=0.2)
    assert ok, "a node of a new cluster never finished recovering"

    phase("cluster formed, recovered")
    kill(cluster, "n2")
    names = [f"wiped_{i}" for i in range(USERS)]
    for name in names:
        ok, _ = wait_until(lambda: request(cluster, "n1", "POST", "/v1/auth/signup",
                                           {"username": name, "email": f"{name}@example.com",
                                            "password": "password-" + name}, timeout=6.0)[0] in (201, 409),
                           30.0, interval=0.3)
        assert ok, f"sign-up of {name} was never acknowledged with n2 down"
        assert login(cluster, "n1", name) == 200, f"{name} cannot log in right after signing up"

    phase(f"{USERS} users signed up with n2 down")
    kill(cluster, "n3")
    shutil.rmtree(data["n3"])
    kill(cluster, "n1")
    cluster.start("n2")
    cluster.start("n3")
    ok, _ = wait_until(lambda: converged(cluster, ["n2", "n3"]), 30.0)
    assert ok, "n2 and n3 did not see each other"
    assert "recovering every shard" in cluster.log("n3"), "n3 did not start recovering"

    phase("n2 and n3 (emptied) up, n1 down")
    # n1 away: nothing may answer as if the sign-ups never happened.
    deadline = time.monotonic() + OUTAGE_SECONDS
    answers = []
    while time.monotonic() < deadline:
        for node in ("n2", "n3"):
            answers.append(login(cluster, node, names[len(answers) % USERS], timeout=2.0))
        status, _ = request(cluster, "n2", "POST", "/v1/auth/signup",
                            {"username": names[0], "email": "thief@example.com", "password": "password-thief"},
                            timeout=2.0)
        assert status != 201, f"{names[0]} was given to a second account while n1 was away"
        time.sleep(0.2)
    assert 401 not in answers, f"an acknowledged user was unknown while n1 was away: {sorted(set(answers), key=str)}"
    print(f"  while n1 was away: {len(answers)} logins answered {sorted(set(answers), key=str)}")

    cluster.start("n1")
    phase("n1 back")
    ok, _ = wait_until(lambda: not os.path.exists(os.path.join(data["n3"], "RECOVERING")), 60.0, interval=0.5)
    assert ok, "n3 never finished recovering with n1 back"
    assert "recovered every shard" in cluster.log("n3")
    phase("n3 recovered")
    for name in names:
        for node in ids:
            ok, status = wait_until(lambda: login(cluster, node, name) == 200, 30.0, interval=0.5)
            assert ok, f"{name} cannot log in through {node} after recovery"
    phase("every user logs in through every node")
    # n3 now holds what it lost: with n1 gone again, n2 and n3 serve every user.
    kill(cluster, "n1")
    for name in names:
        ok, _ = wait_until(lambda: login(cluster, "n2", name) == 200, 30.0, interval=0.5)
        assert ok, f"{name} cannot log in through n2 with n1 gone after n3 recovered"


def main():
    return run_on_cluster(Cluster(3, name="plume-wiped-node"), [
        ("a wiped node recovers before its word counts", test_a_wiped_node_recovers_before_its_word_counts),
    ])


if __name__ == "__main__":
    sys.exit(main())
