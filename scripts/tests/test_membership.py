#!/usr/bin/env python3
"""Multi-process membership test: real `plume node` processes on loopback.

3 nodes converge; garbage on the cluster port is refused while the node stays healthy; a node
with the wrong secret never becomes a member; kill -9 is detected and the node leaves the shard
table; a restart rejoins at a higher incarnation; SIGTERM leaves gracefully with exit code 0."""

import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import (Cluster, Runner, cluster_view, frame_header, free_ports, http_get, metric,  # noqa: E402
                       statuses, wait_until)

# Liveness bounds, generous on purpose (a loaded 2-core CI machine): the speed figures are
# benchmarks' (`scripts/bench.sh failover`). The code's own detection bound for 3 members is 7.5 s.
DETECTION_S = 15.0
CONVERGE_S = 30.0


def all_see(cluster, observers, expected):
    def check():
        for observer in observers:
            seen = statuses(cluster, observer)
            if seen is None or any(seen.get(node) != status for node, status in expected.items()):
                return False
        return True
    return check


def test_three_nodes_converge(cluster):
    cluster.start_all()
    ok, elapsed = wait_until(all_see(cluster, ["n1", "n2", "n3"], {"n1": "alive", "n2": "alive", "n3": "alive"}), CONVERGE_S)
    assert ok, f"not 3 alive within {CONVERGE_S} s: {[statuses(cluster, n) for n in ('n1', 'n2', 'n3')]}"
    print(f"  3 alive everywhere after {elapsed:.2f} s")
    for node in ("n1", "n2", "n3"):
        # Ready once its shards recovered too (at once in a new cluster: a round trip and a write).
        ok, _ = wait_until(lambda: http_get(cluster.url(node, "/ready"))[0] == 200, 10.0)
        assert ok, f"{node} /ready answered {http_get(cluster.url(node, '/ready'))[0]}"
    view = cluster_view(cluster, "n1")
    assert view["shards"]["count"] == 64 and view["shards"]["replication"] == 3
    assert all(sorted(s["replicas"]) == ["n1", "n2", "n3"] for s in view["shards"]["table"])


def send_and_expect_close(port, payload):
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(payload)
        s.settimeout(3)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        assert data == b"", f"the node answered garbage with {data!r} instead of closing"


def test_garbage_on_cluster_port_is_refused(cluster):
    port = cluster.nodes["n1"]["cluster"]
    before_magic = metric(cluster, "n1", "plume_frames_rejected_total", '{reason="bad_magic"}') or 0
    before_large = metric(cluster, "n1", "plume_frames_rejected_total", '{reason="too_large"}') or 0
    send_and_expect_close(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(64))
    send_and_expect_close(port, frame_header(0xFFFFFFFF))
    assert metric(cluster, "n1", "plume_frames_rejected_total", '{reason="bad_magic"}') >= before_magic + 1
    assert metric(cluster, "n1", "plume_frames_rejected_total", '{reason="too_large"}') >= before_large + 1
    status, _ = http_get(cluster.url("n1", "/health"))
    assert status == 200, "n1 is not healthy after garbage"
    ok, _ = wait_until(all_see(cluster, ["n2", "n3"], {"n1": "alive"}), 10.0)
    assert ok, "n1 left the cluster after garbage"


def test_wrong_secret_is_refused(cluster):
    cluster_port, http_port = free_ports(2)
    seeds = f"127.0.0.1:{cluster.nodes['n1']['cluster']}"
    intruder = cluster.start("intruder", [
        "--cluster-addr", f"127.0.0.1:{cluster_port}", "--http-addr", f"127.0.0.1:{http_port}", "--seeds", seeds,
    ], env={"PLUME_CLUSTER_SECRET": "not-the-secret"})
    try:
        ok, _ = wait_until(lambda: http_get(f"http://127.0.0.1:{http_port}/health")[0] == 200, 10.0)
        assert ok, "the intruder node did not start"
        refused, _ = wait_until(
            lambda: (metric(cluster, "n1", "plume_handshakes_refused_total", '{side="listener"}') or 0) >= 1, 15.0)
        assert refused, "n1 never refused the intruder's handshake"
        time.sleep(2.0)  # the intruder keeps retrying its seeds meanwhile
        for observer in ("n1", "n2", "n3"):
            assert "intruder" not in statuses(cluster, observer), f"{observer} lists the intruder"
        status, _ = http_get(f"http://127.0.0.1:{http_port}/ready")
        assert status == 503, f"the refused node reports ready ({status})"
    finally:
        intruder.kill()
        intruder.wait(timeout=5)
        del cluster.processes["intruder"]


def test_kill_9_is_detected(cluster):
    before = cluster_view(cluster, "n1")
    cluster.state["n3_incarnation"] = next(m["incarnation"] for m in before["members"] if m["id"] == "n3")
    cluster.signal("n3", signal.SIGKILL)
    cluster.processes["n3"].wait(timeout=5)
    ok, elapsed = wait_until(all_see(cluster, ["n1", "n2"], {"n3": "dead"}), DETECTION_S)
    assert ok, f"n3 not dead everywhere within {DETECTION_S} s: {statuses(cluster, 'n1')} {statuses(cluster, 'n2')}"
    print(f"  kill -9 detected by both survivors after {elapsed:.2f} s")
    for observer in ("n1", "n2"):
        table = cluster_view(cluster, observer)["shards"]["table"]
        assert all("n3" not in s["replicas"] for s in table), f"{observer} still places shards on n3"
        assert all(sorted(s["replicas"]) == ["n1", "n2"] for s in table)


def test_restart_rejoins_with_higher_incarnation(cluster):
    cluster.start("n3")
    ok, elapsed = wait_until(all_see(cluster, ["n1", "n2", "n3"], {"n1": "alive", "n2": "alive", "n3": "alive"}), CONVERGE_S)
    assert ok, f"n3 not alive everywhere after restart: {statuses(cluster, 'n1')}"
    print(f"  restarted n3 alive everywhere after {elapsed:.2f} s")
    for observer in ("n1", "n2"):
        incarnation = next(m["incarnation"] for m in cluster_view(cluster, observer)["members"] if m["id"] == "n3")
        assert incarnation > cluster.state["n3_incarnation"], f"{observer} sees n3 at incarnation {incarnation}"


def test_sigterm_leaves_gracefully(cluster):
    cluster.signal("n2", signal.SIGTERM)
    code = cluster.processes["n2"].wait(timeout=10)
    assert code == 0, f"n2 exited with {code} after SIGTERM"
    ok, elapsed = wait_until(all_see(cluster, ["n1", "n3"], {"n2": "left"}), 10.0)
    assert ok, f"n2 not 'left' everywhere: {statuses(cluster, 'n1')} {statuses(cluster, 'n3')}"
    print(f"  SIGTERM: n2 exited 0 and was 'left' everywhere {elapsed:.2f} s later")
    table = cluster_view(cluster, "n1")["shards"]["table"]
    assert all(sorted(s["replicas"]) == ["n1", "n3"] for s in table)


def main():
    cluster = Cluster(3)
    cluster.state = {}
    runner = Runner()
    try:
        for test in (test_three_nodes_converge, test_garbage_on_cluster_port_is_refused, test_wrong_secret_is_refused,
                     test_kill_9_is_detected, test_restart_rejoins_with_higher_incarnation,
                     test_sigterm_leaves_gracefully):
            runner.run(test.__name__, test, cluster)
            if runner.failed and test is test_three_nodes_converge:
                break
    finally:
        cluster.stop_all()
        if runner.failed:
            for node_id in cluster.processes:
                print(f"--- log of {node_id} (last 40 lines) ---")
                print(cluster.log_excerpt(node_id, 40))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
