#!/usr/bin/env python3
"""A standalone node keeps every acknowledged write across kill -9 (also after a checkpoint
replaced its old WAL segments by snapshots), and refuses to start on a write-ahead log damaged
before valid records, naming the file and offset."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import (Runner, free_ports, http_get, plume_binary, request, temporary_directory,  # noqa: E402
                       wait_until)


class Standalone:
    def __init__(self):
        self.dir = temporary_directory("plume-standalone-")
        self.cluster_port, self.http_port = free_ports(2)
        self.process = None

    def start(self):
        log = open(os.path.join(self.dir, "node.log"), "ab")
        self.process = subprocess.Popen(
            [plume_binary(), "node", "--cluster-addr", f"127.0.0.1:{self.cluster_port}",
             "--http-addr", f"127.0.0.1:{self.http_port}"],
            cwd=self.dir, stdout=log, stderr=subprocess.STDOUT)
        return self.process

    def url(self, _node, path):
        return f"http://127.0.0.1:{self.http_port}{path}"

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def log(self):
        with open(os.path.join(self.dir, "node.log"), "rb") as f:
            return f.read().decode(errors="replace")


def ready(node):
    return lambda: http_get(node.url(None, "/ready"))[0] == 200


def kill_9_and_restart(node):
    node.process.send_signal(signal.SIGKILL)
    node.process.wait(timeout=5)
    node.start()
    assert wait_until(ready(node), 20)[0], "the node did not become ready after kill -9"


def test_kill_9_keeps_acknowledged_writes(node):
    node.start()
    assert wait_until(ready(node), 20)[0], "the node did not become ready"
    users = {}
    for index in range(8):  # scrypt makes each signup and login costly in a debug build
        name = f"durable{index}"
        status, body = request(node, None, "POST", "/v1/auth/signup",
                               {"username": name, "email": f"{name}@example.com", "password": "password-x"})
        assert status == 201, f"signup {name}: {status} {body}"
        status, body = request(node, None, "PATCH", "/v1/users/me", {"bio": f"bio {index}"}, token=body["access_token"])
        assert status == 200, f"update {name}: {status} {body}"
        users[name] = f"bio {index}"
    def metrics_with_every_shard_led():
        text = http_get(node.url(None, "/metrics"))[1]
        return text if text and "plume_shards_led 256" in text else None

    # The gauge follows the node's tick: wait for it (bounded) rather than read it once.
    metrics, _ = wait_until(metrics_with_every_shard_led, 20.0)
    assert metrics and "plume_wal_writes_total" in metrics, "replication metrics missing"
    kill_9_and_restart(node)
    for name, bio in users.items():
        status, body = login(node, name)
        assert status == 200, f"{name} cannot log in after kill -9: {status} {body}"
        assert body["user"]["bio"] == bio, f"{name} lost its update: {body['user']['bio']!r}"


def login(node, name):
    status, body = None, None
    for _ in range(20):  # bounded: shards are re-elected after a restart
        status, body = request(node, None, "POST", "/v1/auth/login", {"username": name, "password": "password-x"})
        if status == 200:
            break
        time.sleep(0.2)
    return status, body


def test_checkpoint_then_kill_9_keeps_writes(node):
    """SIGTERM checkpoints (shard snapshots replace the WAL written so far); writes after the
    restart are a WAL tail on top of the snapshots, and kill -9 loses none of them."""
    data = os.path.join(node.dir, "data", "standalone")
    node.process.send_signal(signal.SIGTERM)
    assert node.process.wait(timeout=20) == 0, "the node did not exit 0 on SIGTERM"
    snapshots = [n for n in os.listdir(os.path.join(data, "snapshots")) if n.endswith(".snap")]
    assert len(snapshots) == 256, f"expected a snapshot per shard, found {len(snapshots)}"
    segments = sorted(os.listdir(os.path.join(data, "wal")))
    assert "wal-00000001.seg" not in segments, f"the checkpoint kept the covered WAL: {segments}"
    node.start()
    assert wait_until(ready(node), 20)[0], "the node did not become ready from its snapshots"
    bios = {}
    for index in range(4):
        name = f"durable{index}"
        status, body = login(node, name)
        assert status == 200, f"{name} cannot log in after the checkpoint: {status} {body}"
        assert body["user"]["bio"] == f"bio {index}", f"{name} lost its update: {body['user']['bio']!r}"
        status, body = request(node, None, "PATCH", "/v1/users/me", {"bio": f"after {index}"}, token=body["access_token"])
        assert status == 200, f"update {name}: {status} {body}"
        bios[name] = f"after {index}"
    kill_9_and_restart(node)
    for name, bio in bios.items():
        status, body = login(node, name)
        assert status == 200 and body["user"]["bio"] == bio, f"{name} after kill -9: {status} {body}"


def test_damaged_wal_is_refused(node):
    node.stop()
    wal = os.path.join(node.dir, "data", "standalone", "wal")
    segment = os.path.join(wal, sorted(os.listdir(wal))[0])
    with open(segment, "r+b") as f:
        f.seek(12)
        byte = f.read(1)
        f.seek(12)
        f.write(bytes([byte[0] ^ 0x40]))
    process = node.start()
    code = process.wait(timeout=20)
    assert code != 0, "the node started on a damaged write-ahead log"
    log = node.log()
    assert "corrupt record" in log and os.path.basename(segment) in log and "offset 0" in log, log[-500:]


def main():
    node = Standalone()
    runner = Runner()
    try:
        runner.run("test_kill_9_keeps_acknowledged_writes", test_kill_9_keeps_acknowledged_writes, node)
        runner.run("test_checkpoint_then_kill_9_keeps_writes", test_checkpoint_then_kill_9_keeps_writes, node)
        runner.run("test_damaged_wal_is_refused", test_damaged_wal_is_refused, node)
    finally:
        node.stop()
        if runner.failed:
            print("\n".join(node.log().splitlines()[-30:]))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
