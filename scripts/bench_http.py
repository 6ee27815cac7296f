#!/usr/bin/env python3
"""HTTP edge figures with real processes and wrk, beside their peers measured in the same run.

Plume: one `plume node` (replication 1; GET /health, GET /v1/users/me, PATCH /v1/users/me,
POST /v1/auth/refresh) and 3 nodes with replication 3 (PATCH /v1/users/me through one node).
Peers: etcd (Debian's etcd-server) with 1 and 3 members on loopback, PUT through its JSON gateway
/v3/kv/put; redis-server with appendfsync always (redis-benchmark SET). For each: requests/s,
p50/p99 and CPU µs per request of the server processes; then the ratios against the targets.
Prints figures, never pass/fail. Loopback only; every run is bounded (PLUME_BENCH_SECONDS, 10 s
by default, wrk -t2 -c64) and every process this script starts is ended by PID.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
from plumetest import Cluster, free_ports  # noqa: E402

SECONDS = int(os.environ.get("PLUME_BENCH_SECONDS", "10"))
CONNECTIONS = 64
THREADS = 2
USERS = 64
TICKS = os.sysconf("SC_CLK_TCK")


def install(packages):
    missing = [p for p in packages if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", *missing], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)


def until(condition, timeout):
    """Polls `condition` (an exception counts as not yet) until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        time.sleep(0.1)
    return False


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (after the state field)
    return total / TICKS


def call(base, method, path, body=None, token=None, timeout=20):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return json.loads(response.read())


def in_parallel(base, count, path, body):
    """POSTs body(i) to `path` for i in range(count) at once (each costs a scrypt hash), retrying
    each a bounded number of times (an election may still be under way); returns the answers."""
    results = [None] * count

    def one(index):
        for _ in range(20):
            try:
                results[index] = call(base, "POST", path, body(index))
                return
            except Exception:  # noqa: BLE001 - bounded retries
                time.sleep(0.25)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answered = [r for r in results if r]
    if len(answered) < count:
        raise RuntimeError(f"only {len(answered)} of {count} requests to {path} succeeded")
    return answered



def signup_users(base, count, prefix):
    """Signs `count` users up; returns their tokens and the seconds it took."""
    started = time.monotonic()
    tokens = in_parallel(base, count, "/v1/auth/signup", lambda i: {
        "username": f"{prefix}{i}", "email": f"{prefix}{i}@example.com", "password": "benchmark password"})
    return tokens, time.monotonic() - started


def login_users(base, count, prefix):
    """Logs every user in once more: a second session each (refresh tokens)."""
    return in_parallel(base, count, "/v1/auth/login", lambda i: {"username": f"{prefix}{i}", "password": "benchmark password"})


LUA_COMMON = """
tokens = {%s}
counter = 0
"""

LUA_ROUND_ROBIN = LUA_COMMON + """
request = function()
    counter = counter + 1
    local token = tokens[(counter %% #tokens) + 1]
    local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
    return wrk.format("%s", "%s", headers, %s)
end
"""

# Each refresh token works once: every thread keeps its own pool, takes a token for each request
# and puts back the one the answer brings. wrk calls `request` once more than it sends, so each
# thread gets twice as many sessions as connections.
LUA_REFRESH = """
all = {%s}
threads = 0
setup = function(thread)
    thread:set("id", threads)
    threads = threads + 1
end
init = function(args)
    pool = {}
    for i, token in ipairs(all) do
        if (i - 1) %% %d == id then table.insert(pool, token) end
    end
end
request = function()
    local token = table.remove(pool, 1) or "none"
    local body = '{"refresh_token":"' .. token .. '"}'
    return wrk.format("POST", "/v1/auth/refresh", {["Content-Type"] = "application/json"}, body)
end
response = function(status, headers, body)
    local token = string.match(body, '"refresh_token":"([^"]+)"')
    if token then table.insert(pool, token) end
end
"""

# etcd's JSON gateway takes base64 keys: 1,000 of them, written out here.
LUA_ETCD = """
keys = {%s}
counter = 0
request = function()
    counter = counter + 1
    local body = '{"key":"' .. keys[(counter %% #keys) + 1] .. '","value":"dmFsdWU="}'
    return wrk.format("POST", "/v3/kv/put", {["Content-Type"] = "application/json"}, body)
end
""" % ", ".join(f'"{base64.b64encode(f"key{i}".encode()).decode()}"' for i in range(1000))


def wrk(url, script, work, pids):
    """Runs wrk against `url` with a Lua script; returns requests/s, p50, p99 (ms), errors, CPU µs/request."""
    path = os.path.join(work, "script.lua")
    with open(path, "w") as f:
        f.write(script)
    before = cpu_seconds(pids)
    out = subprocess.run(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "-s", path, url],
                         capture_output=True, text=True, timeout=SECONDS + 60).stdout
    used = cpu_seconds(pids) - before
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))

    def percentile(p):
        match = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rate": rate, "p50": percentile(50), "p99": percentile(99),
        "errors": (int(errors.group(1)) if errors else 0), "socket": socket_errors.group(1) if socket_errors else "",
        "cpu": used * 1e6 / max(1, total),
    }


def show(name, result):
    extra = f"  non-2xx {result['errors']}" if result["errors"] else ""
    extra += f"  socket errors: {result['socket']}" if result["socket"] else ""
    print(f"{name:<44} {result['rate']:>9.0f}/s  p50 {result['p50']:>6.2f} ms  p99 {result['p99']:>7.2f} ms"
          f"  cpu {result['cpu']:>6.0f} µs/req{extra}", flush=True)
    return result


def tokens_lua(tokens, key):
    return ", ".join(f'"{t[key]}"' for t in tokens)


# The auth brakes are per client address, and wrk is one client: raised for the benchmark.
BENCH_GATEWAY = {"auth_burst": 100000, "auth_per_minute": 6000000,
                 "user_writes_burst": 100000, "user_writes_per_minute": 6000000}


def bench_plume_single(work, results):
    cluster = Cluster(1, name="bench-http-1", gateway=BENCH_GATEWAY)
    try:
        cluster.start_all()
        base = cluster.url("n1", "")
        if not until(lambda: urllib.request.urlopen(base + "/ready", timeout=1).status == 200, 60):
            raise RuntimeError("the node never became ready")
        tokens, elapsed = signup_users(base, USERS, "bench")
        print(f"plume 1 node: {USERS} signups in {elapsed:.1f} s ({USERS / elapsed:.1f}/s, a scrypt hash each)",
              flush=True)
        pids = [p.pid for p in cluster.processes.values()]
        results["health"] = show("plume 1 node   GET  /health", wrk(base + "/health", "", work, pids))
        access = tokens_lua(tokens, "access_token")
        results["me"] = show("plume 1 node   GET  /v1/users/me",
                             wrk(base, LUA_ROUND_ROBIN % (access, "GET", "/v1/users/me", "nil"), work, pids))
        patch = LUA_ROUND_ROBIN % (access, "PATCH", "/v1/users/me", "'{\"bio\":\"bio ' .. counter .. '\"}'")
        results["patch1"] = show("plume 1 node   PATCH /v1/users/me", wrk(base, patch, work, pids))
        sessions = tokens + login_users(base, USERS, "bench")
        refresh = LUA_REFRESH % (tokens_lua(sessions, "refresh_token"), THREADS)
        results["refresh"] = show("plume 1 node   POST /v1/auth/refresh", wrk(base, refresh, work, pids))
    finally:
        cluster.stop_all()
        shutil.rmtree(cluster.dir, ignore_errors=True)


def bench_plume_cluster(work, results):
    cluster = Cluster(3, name="bench-http-3", gateway=BENCH_GATEWAY)
    try:
        cluster.start_all()
        base = cluster.url("n1", "")
        ready = until(lambda: all(urllib.request.urlopen(cluster.url(n, "/ready"), timeout=1).status == 200
                                       for n in cluster.nodes), 60)
        if not ready:
            raise RuntimeError("the 3-node cluster never became ready")
        tokens, _ = signup_users(base, USERS, "cluster")
        pids = [p.pid for p in cluster.processes.values()]
        patch = LUA_ROUND_ROBIN % (tokens_lua(tokens, "access_token"), "PATCH", "/v1/users/me",
                                   "'{\"bio\":\"bio ' .. counter .. '\"}'")
        results["patch3"] = show("plume 3 nodes  PATCH /v1/users/me (via n1)", wrk(base, patch, work, pids))
        # Each read waits for a read round (a probe to the replica set, shared by the reads of
        # the moment): what it costs against the single node's reads.
        results["me3"] = show("plume 3 nodes  GET  /v1/users/me (via n1)",
                              wrk(base, LUA_ROUND_ROBIN % (tokens_lua(tokens, "access_token"), "GET", "/v1/users/me",
                                                           "nil"), work, pids))
    finally:
        cluster.stop_all()
        shutil.rmtree(cluster.dir, ignore_errors=True)


def bench_etcd(work, members, results, key):
    ports = free_ports(2 * members)
    names = [f"m{i}" for i in range(members)]
    initial = ",".join(f"{names[i]}=http://127.0.0.1:{ports[2 * i + 1]}" for i in range(members))
    processes = []
    try:
        for i in range(members):
            data = os.path.join(work, f"etcd-{members}-{i}")
            args = ["etcd", "--name", names[i], "--data-dir", data,
                    "--listen-client-urls", f"http://127.0.0.1:{ports[2 * i]}",
                    "--advertise-client-urls", f"http://127.0.0.1:{ports[2 * i]}",
                    "--listen-peer-urls", f"http://127.0.0.1:{ports[2 * i + 1]}",
                    "--initial-advertise-peer-urls", f"http://127.0.0.1:{ports[2 * i + 1]}",
                    "--initial-cluster", initial, "--initial-cluster-state", "new"]
            log = open(data + ".log", "wb")
            processes.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{ports[0]}"

        def healthy():
            try:
                return b"true" in urllib.request.urlopen(base + "/health", timeout=1).read()
            except Exception:  # noqa: BLE001
                return False

        if not until(healthy, 60):
            raise RuntimeError(f"etcd with {members} member(s) never became healthy")
        results[key] = show(f"etcd {members} member(s) PUT /v3/kv/put",
                            wrk(base, LUA_ETCD, work, [p.pid for p in processes]))
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def bench_redis(work, results):
    port = free_ports(1)[0]
    directory = os.path.join(work, "redis")
    os.makedirs(directory)
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
                               "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip()
                   == b"PONG", 20)
        before = cpu_seconds([server.pid])
        requests = 100_000
        out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(requests),
                              "-c", str(CONNECTIONS), "-r", "10000", "-q", "--csv"],
                             capture_output=True, text=True, timeout=300).stdout
        used = cpu_seconds([server.pid]) - before
        row = [line for line in out.splitlines() if line.startswith('"SET"')][0]
        fields = [f.strip('"') for f in row.split(",")]
        results["redis"] = show("redis appendfsync always SET", {
            "rate": float(fields[1]), "p50": float(fields[4]), "p99": float(fields[6]), "errors": 0, "socket": "",
            "cpu": used * 1e6 / requests})
    finally:
        server.terminate()
        server.wait(timeout=10)


def main():
    install(["wrk", "etcd-server", "redis-server", "redis-tools"])
    work = tempfile.mkdtemp(prefix="plume-bench-http-")
    results = {}
    print(f"HTTP edge, wrk -t{THREADS} -c{CONNECTIONS} -d{SECONDS}s on loopback, {os.cpu_count()} cores", flush=True)
    try:
        bench_plume_single(work, results)
        bench_plume_cluster(work, results)
        bench_etcd(work, 1, results, "etcd1")
        bench_etcd(work, 3, results, "etcd3")
        bench_redis(work, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    r = results
    print("\nratios (target in brackets):")
    if "me" in r and "health" in r:
        print(f"  GET /v1/users/me / GET /health           {r['me']['rate'] / r['health']['rate']:6.2f}  [>= 0.60]")
    if "patch1" in r and "etcd1" in r:
        print(f"  PATCH 1 node / etcd 1 member             {r['patch1']['rate'] / r['etcd1']['rate']:6.2f}  [>= 3, and"
              f" >= 15,000/s: {r['patch1']['rate']:.0f}/s]")
    if "patch3" in r and "etcd3" in r:
        print(f"  PATCH 3 nodes / etcd 3 members           {r['patch3']['rate'] / r['etcd3']['rate']:6.2f}  [>= 2, p99 < 50 ms:"
              f" {r['patch3']['p99']:.1f} ms]")
    if "me3" in r and "me" in r:
        print(f"  GET /v1/users/me 3 nodes / 1 node        {r['me3']['rate'] / r['me']['rate']:6.2f}  (the read rounds'"
              f" cost; p99 {r['me3']['p99']:.1f} ms)")
    if "patch1" in r and "redis" in r:
        print(f"  PATCH 1 node / redis appendfsync always  {r['patch1']['rate'] / r['redis']['rate']:6.2f}")


if __name__ == "__main__":
    main()
