#!/usr/bin/env python3
"""Three nodes run as an unprivileged user (`nobody`, through setpriv, when the tests run as
root, as CI does) form a cluster: every dial works (no socket option that needs a capability),
each node is ready, and a sign-up through one node is read through another. A node whose seeds
never answer is not ready, even though it is its own seed."""

import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import Cluster, Runner, http_get, statuses, wait_until  # noqa: E402

CONVERGE_S = 30


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.status, json.loads(response.read())


def test_three_unprivileged_nodes_form_a_cluster(cluster):
    for node in cluster.nodes:
        cluster.start(node, user="nobody")
    nodes = list(cluster.nodes)

    def converged():
        return all((statuses(cluster, n) or {}) == {m: "alive" for m in nodes} for n in nodes)

    ok, elapsed = wait_until(converged, CONVERGE_S)
    assert ok, f"no 3-node cluster within {CONVERGE_S} s: {[statuses(cluster, n) for n in nodes]}"
    print(f"  3 alive everywhere after {elapsed:.2f} s")
    for node in nodes:
        ok, _ = wait_until(lambda: http_get(cluster.url(node, "/ready"))[0] == 200, 10.0)
        assert ok, f"{node} is not ready"
        assert "Permission denied" not in cluster.log(node), cluster.log_excerpt(node)

    def signed_up():
        try:
            return post(cluster.url("n1", "/v1/auth/signup"),
                        {"username": "nobody_player", "email": "np@example.com", "password": "correct horse"})
        except OSError:
            return None

    answer, _ = wait_until(signed_up, 30, interval=0.5)
    assert answer and answer[0] == 201, f"sign-up through n1: {answer}"
    user_id = answer[1]["user"]["id"]
    status, body = http_get(cluster.url("n3", f"/v1/users/{user_id}"))
    assert status == 200 and json.loads(body)["username"] == "nobody_player", f"read through n3: {status} {body}"


def test_a_node_whose_seeds_never_answer_is_not_ready():
    # Listed with two others that never start, and a seed of its own: "joined" at once, but alone.
    lonely = Cluster(3, name="plume-lonely")
    try:
        lonely.start("n1", user="nobody")
        ok, _ = wait_until(lambda: http_get(lonely.url("n1", "/health"))[0] == 200, 20)
        assert ok, "n1 did not start"
        status, body = http_get(lonely.url("n1", "/ready"))
        assert status == 503 and json.loads(body)["ready"] is False, f"/ready: {status} {body}"
        warned, _ = wait_until(lambda: "warning" in lonely.log("n1") and "cannot connect to peer" in lonely.log("n1"), 10)
        assert warned, "failed dials were not logged at warning level:\n" + lonely.log_excerpt("n1")
    finally:
        lonely.stop_all()


def main():
    runner = Runner()
    cluster = Cluster(3, name="plume-unprivileged")
    try:
        runner.run("three unprivileged nodes form a cluster", test_three_unprivileged_nodes_form_a_cluster, cluster)
        if runner.failed:
            for node in cluster.nodes:
                print(f"--- {node}\n{cluster.log_excerpt(node)}")
    finally:
        cluster.stop_all()
    runner.run("a node whose seeds never answer is not ready", test_a_node_whose_seeds_never_answer_is_not_ready)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
