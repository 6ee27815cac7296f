#!/usr/bin/env python3
"""Multi-process chaos test of replicated accounts (short form).

3 nodes, replication 3. Clients sign up users and update profiles through random nodes while a
nemesis kills nodes with kill -9 and restarts them, and pauses them with SIGSTOP/SIGCONT (one
node at a time, so a majority stays). Every operation and its outcome is recorded. At the end:
every acknowledged signup can log in, every profile shows its last acknowledged update (or a
later unacknowledged one), and no username maps to two accounts.

Bounded: at most PLUME_CHAOS_OPS operations (default 150) and PLUME_CHAOS_SECONDS (default 30);
while fewer than 5 signups are acknowledged (a slow machine) it goes on, to twice the operations
and four times the seconds at most."""

import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import metric, request, Cluster, Runner, statuses, wait_until  # noqa: E402

OPS = int(os.environ.get("PLUME_CHAOS_OPS", "150"))
SECONDS = float(os.environ.get("PLUME_CHAOS_SECONDS", "30"))
MIN_ACKED = 5
SEED = int(os.environ.get("PLUME_CHAOS_SEED", str(int(time.time()))))



class Nemesis(threading.Thread):
    def __init__(self, cluster, rng, stop):
        super().__init__(daemon=True)
        self.cluster, self.rng, self.stop = cluster, rng, stop
        self.log = []

    def run(self):
        while not self.stop.wait(self.rng.uniform(1.5, 3.0)):
            node = self.rng.choice(list(self.cluster.nodes))
            if self.rng.random() < 0.5:
                self.log.append(("kill -9", node))
                self.cluster.signal(node, signal.SIGKILL)
                self.cluster.processes[node].wait(timeout=5)
                if self.stop.wait(self.rng.uniform(1.0, 2.5)):
                    self.cluster.start(node)
                    break
                self.cluster.start(node)
                self.log.append(("restart", node))
            else:
                self.log.append(("SIGSTOP", node))
                self.cluster.signal(node, signal.SIGSTOP)
                self.stop.wait(self.rng.uniform(0.5, 2.0))
                self.cluster.signal(node, signal.SIGCONT)
                self.log.append(("SIGCONT", node))
            # Let the cluster settle a little between faults.
            self.stop.wait(1.0)


def test_chaos(cluster):
    rng = random.Random(SEED)
    print(f"  seed {SEED} (replay with PLUME_CHAOS_SEED={SEED})")
    cluster.start_all()
    ids = list(cluster.nodes)
    ok, _ = wait_until(lambda: all((statuses(cluster, n) or {}).get(m) == "alive" for n in ids for m in ids), 20.0)
    assert ok, "the cluster did not converge"
    # Warm-up: shards elect their primaries.
    ok, _ = wait_until(lambda: request(cluster, "n1", "POST", "/v1/auth/login",
                                       {"username": "nobody", "password": "x" * 8})[0] == 401, 30.0, interval=0.5)
    assert ok, "accounts never became available"

    users = {}  # username -> {"id", "password", "token", "updates": [(value, acked)]}
    unknown_signups = []
    stop = threading.Event()
    nemesis = Nemesis(cluster, rng, stop)
    nemesis.start()
    started = time.monotonic()
    ops = 0
    try:
        def keep_going():
            elapsed = time.monotonic() - started
            if ops < OPS and elapsed < SECONDS:
                return True
            few = sum(1 for r in users.values() if r["id"]) < MIN_ACKED
            return few and ops < 2 * OPS and elapsed < 4 * SECONDS

        while keep_going():
            ops += 1
            node = rng.choice(ids)
            acked_users = [u for u, r in users.items() if r["id"]]
            if not acked_users or rng.random() < 0.4:
                name = f"p{SEED % 10000}_{ops}"
                status, body = request(cluster, node, "POST", "/v1/auth/signup",
                                       {"username": name, "email": f"{name}@example.com", "password": "password-" + name})
                if status == 201:
                    users[name] = {"id": body["user"]["id"], "password": "password-" + name,
                                   "token": body["access_token"], "updates": []}
                else:
                    unknown_signups.append((name, status))
            else:
                name = rng.choice(acked_users)
                record = users[name]
                value = f"bio-{ops}"
                status, body = request(cluster, node, "PATCH", "/v1/users/me", {"bio": value}, token=record["token"])
                record["updates"].append((value, status == 200 and body.get("bio") == value))
    finally:
        stop.set()
        nemesis.join(timeout=15)
    for process in cluster.processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
    for node in ids:
        if cluster.processes[node].poll() is not None:
            cluster.start(node)
    acked = sum(1 for r in users.values() if r["id"])
    updates = sum(1 for r in users.values() for _, a in r["updates"] if a)
    print(f"  {ops} operations; {acked} signups and {updates} profile updates acknowledged; "
          f"{len(unknown_signups)} signups unacknowledged; nemesis: {len(nemesis.log)} actions")
    assert acked >= MIN_ACKED, "too few signups were acknowledged for the check to mean anything"

    ok, _ = wait_until(lambda: all((statuses(cluster, n) or {}).get(m) == "alive" for n in ids for m in ids), 30.0)
    assert ok, "the cluster did not converge after the nemesis"
    checkpoints = sum(metric(cluster, n, "plume_checkpoints_total") or 0 for n in ids)
    installs = sum(metric(cluster, n, "plume_snapshots_installed_total") or 0 for n in ids)
    print(f"  since the nodes' last starts: {int(checkpoints)} checkpoints, {int(installs)} shard snapshots installed")

    def login(name, record):
        for _ in range(40):  # bounded: shards may still be electing
            status, body = request(cluster, rng.choice(ids), "POST", "/v1/auth/login",
                                   {"username": name, "password": record["password"]})
            if status == 200:
                return body
            time.sleep(0.5)
        return None

    for name, record in users.items():
        body = login(name, record)
        assert body is not None, f"acknowledged signup {name} cannot log in"
        assert body["user"]["id"] == record["id"], f"{name} maps to {body['user']['id']}, not {record['id']}"
        attempts = record["updates"]
        last_acked = max((i for i, (_, a) in enumerate(attempts) if a), default=None)
        allowed = {v for v, _ in attempts[last_acked:]} if last_acked is not None else {""} | {v for v, _ in attempts}
        assert body["user"]["bio"] in allowed, f"{name} shows bio {body['user']['bio']!r}, allowed {sorted(allowed)}"
        # The name is taken exactly once: another signup for it is refused (retried while the
        # cluster answers 503/504 or not at all, bounded).
        for _ in range(20):
            status, again = request(cluster, rng.choice(ids), "POST", "/v1/auth/signup",
                                    {"username": name.upper(), "email": f"other-{name}@example.com",
                                     "password": "password-x"})
            if status not in (None, 503, 504):
                break
            time.sleep(0.5)
        assert status == 409 and again["error"]["code"] == "username_taken", \
            f"re-signup of {name} answered {status} {again}"

    # A signup whose answer was lost either never happened or is finished by a login with its
    # password; then the name leads to that account and no other.
    finished = 0
    for name, _ in unknown_signups:
        for _ in range(20):  # bounded: shards may still be electing
            status, body = request(cluster, rng.choice(ids), "POST", "/v1/auth/login",
                                   {"username": name, "password": "password-" + name})
            if status in (200, 401):
                break
            time.sleep(0.5)
        assert status in (200, 401), f"login of unacknowledged signup {name} answered {status} {body}"
        if status == 200:
            finished += 1
            assert body["user"]["username"] == name, f"{name} logs into {body['user']}"
            assert name not in users, f"{name} was also acknowledged"
    print(f"  {finished} of {len(unknown_signups)} unacknowledged signups existed and were finished by a login")


def test_sigterm_hands_over(cluster):
    """SIGTERM on a shard's primary: it hands its shards over before exiting 0, and the user's
    writes keep succeeding through the survivors."""
    cluster.start_all()
    ids = list(cluster.nodes)
    ok, _ = wait_until(lambda: all((statuses(cluster, n) or {}).get(m) == "alive" for n in ids for m in ids), 20.0)
    assert ok, "the cluster did not converge"
    body = None
    for _ in range(60):
        status, body = request(cluster, "n1", "POST", "/v1/auth/signup",
                               {"username": "handover", "email": "handover@example.com", "password": "password-1"})
        if status == 201:
            break
        time.sleep(0.5)
    assert status == 201, f"signup failed: {status} {body}"
    token = body["access_token"]
    leaving = "n2"
    cluster.signal(leaving, signal.SIGTERM)
    code = cluster.processes[leaving].wait(timeout=15)
    assert code == 0, f"{leaving} exited {code}"
    log = cluster.log(leaving)
    assert "handed over" in log and "still-leading=0" in log, "the node exited while still leading shards"
    status, answer = None, None
    for _ in range(20):  # bounded; liveness only
        status, answer = request(cluster, "n1", "PATCH", "/v1/users/me", {"bio": "after handover"}, token=token)
        if status == 200:
            break
        time.sleep(0.2)
    assert status == 200 and answer["bio"] == "after handover", f"write after handover failed: {status} {answer}"


def main():
    runner = Runner()
    for test in (test_chaos, test_sigterm_hands_over):
        # Checkpoints every 64 KiB of WAL: snapshots, WAL deletion and snapshot transfers to
        # restarted nodes happen many times under the nemesis.
        # Every client of this test is 127.0.0.1, retrying through elections: the per-address
        # brake on sign-up and login is lifted, as for a trusted proxy's address.
        cluster = Cluster(3, membership={"probe_interval_ms": 300, "probe_timeout_ms": 120, "suspicion_min_ms": 800},
                          storage={"checkpoint_kib": 64},
                          gateway={"auth_burst": 100000, "auth_per_minute": 6000000})
        try:
            runner.run(test.__name__, test, cluster)
        finally:
            cluster.stop_all()
            if runner.failed:
                for node_id in cluster.processes:
                    print(f"--- log of {node_id} (last 30 lines) ---")
                    print(cluster.log_excerpt(node_id))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
