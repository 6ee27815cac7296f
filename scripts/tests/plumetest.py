"""Helpers for Plume's multi-process tests: free loopback ports, generated configs, node
processes started and ended by PID, HTTP probes and bounded waits. Standard library only."""

import atexit
import json
import os
import signal
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plume_binary():
    """The plume binary: $PLUME_BIN, else the debug build the test tier just made."""
    path = os.environ.get("PLUME_BIN") or os.path.join(ROOT, ".build", "debug", "plume")
    if not os.access(path, os.X_OK):
        sys.exit(f"plume binary not found at {path}: run `swift build` or set PLUME_BIN")
    return path


_handed_out = set()


def free_ports(count):
    """Loopback ports below the kernel's ephemeral range (so no outgoing connection takes one
    before the node binds it), free when probed, never handed out twice by this process."""
    ports = []
    while len(ports) < count:
        port = random.randrange(20000, 32000)
        if port in _handed_out:
            continue
        _handed_out.add(port)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
    return ports


class Cluster:
    """Nodes of a generated loopback cluster, each a `plume node` process."""

    def __init__(self, size, name="plume-test", secret="test-secret", membership=None, storage=None, gateway=None,
                 admin=False, realtime=None, sections=None):
        """admin: each node gets an admin listener (`[[node]] admin`), which alone serves
        /metrics and /v1/cluster. sections: more tables of cluster.conf, {"lobbies": {...}}."""
        self.dir = temporary_directory("plume-test-")
        ports = free_ports(3 * size)
        self.nodes = {
            f"n{i + 1}": {"cluster": ports[3 * i], "http": ports[3 * i + 1], "admin": ports[3 * i + 2] if admin else None}
            for i in range(size)
        }
        self.binary = plume_binary()
        self.secret = secret
        self.processes = {}
        lines = [
            "[cluster]",
            f'name = "{name}"',
            f'secret = "{secret}"',
            "shards = 64",
            "replication = 3",
            f'data_dir = "{self.dir}/data"',
            "seeds = [" + ", ".join(f'"127.0.0.1:{n["cluster"]}"' for n in list(self.nodes.values())[:2]) + "]",
        ]
        for node_id, n in self.nodes.items():
            lines += ["", "[[node]]", f'id = "{node_id}"', f'cluster = "127.0.0.1:{n["cluster"]}"',
                      f'http = "127.0.0.1:{n["http"]}"']
            if n["admin"]:
                lines.append(f'admin = "127.0.0.1:{n["admin"]}"')
        if membership:
            lines += ["", "[membership]"] + [f"{k} = {v}" for k, v in membership.items()]
        if storage:
            lines += ["", "[storage]"] + [f"{k} = {v}" for k, v in storage.items()]
        if gateway:
            lines += ["", "[gateway]"] + [f"{k} = {v}" for k, v in gateway.items()]
        if realtime:
            lines += ["", "[realtime]"] + [f"{k} = {v}" for k, v in realtime.items()]
        for section, values in (sections or {}).items():
            lines += ["", f"[{section}]"] + [f"{k} = {v}" for k, v in values.items()]
        self.config = os.path.join(self.dir, "cluster.conf")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, node_id, extra_args=(), env=None, user=None):
        """user: run the node as this unprivileged user (needs root and setpriv; when this script
        is not root it already runs unprivileged, and the node runs as this script's user)."""
        log = open(os.path.join(self.dir, f"{node_id}.log"), "ab")
        args = [self.binary, "node", "--config", self.config, "--node", node_id, *extra_args]
        if user and os.geteuid() == 0:
            os.chmod(self.dir, 0o777)  # the node creates its data directory in here
            args[0] = binary_readable_by_all(self.binary)
            args = ["setpriv", f"--reuid={user}", f"--regid={user_group(user)}", "--clear-groups", *args]
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        self.processes[node_id] = process
        return process

    def start_all(self):
        for node_id in self.nodes:
            self.start(node_id)

    def url(self, node_id, path):
        return f"http://127.0.0.1:{self.nodes[node_id]['http']}{path}"

    def operator_url(self, node_id, path):
        """Where /metrics and /v1/cluster are served: the admin listener if the node has one."""
        node = self.nodes[node_id]
        return f"http://127.0.0.1:{node['admin'] or node['http']}{path}"

    def signal(self, node_id, sig):
        self.processes[node_id].send_signal(sig)

    def stop_all(self):
        """Ends every process this test started, by PID."""
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
        for process in self.processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def log_excerpt(self, node_id, lines=30):
        """Crash reasons (anywhere in the log) followed by the last lines."""
        text = self.log(node_id).splitlines()
        reasons = [l for l in text if "Fatal error" in l or "Precondition failed" in l or "Program crashed" in l]
        return "\n".join(reasons + ["..."] + text[-lines:])

    def log(self, node_id):
        try:
            with open(os.path.join(self.dir, f"{node_id}.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""


_shared_binaries = {}


def binary_readable_by_all(path):
    """A copy of the binary that any user may run (the checkout may sit in a directory only root
    can enter, as under /root), made once per path."""
    if path not in _shared_binaries:
        directory = temporary_directory("plume-bin-")
        os.chmod(directory, 0o755)
        copy = os.path.join(directory, "plume")
        shutil.copy(path, copy)
        os.chmod(copy, 0o755)
        _shared_binaries[path] = copy
    return _shared_binaries[path]


def user_group(user):
    """The primary group of `user` (nobody's is nogroup on Debian)."""
    import pwd
    return pwd.getpwnam(user).pw_gid


def http_get(url, timeout=2.0):
    """(status, body) of a GET, or (None, error text) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, OSError) as error:
        return None, str(error)


def cluster_view(cluster, node_id):
    status, body = http_get(cluster.operator_url(node_id, "/v1/cluster"))
    return json.loads(body) if status == 200 else None


def statuses(cluster, node_id):
    view = cluster_view(cluster, node_id)
    return {m["id"]: m["status"] for m in view["members"]} if view else None


def wait_until(condition, timeout, interval=0.05):
    """Polls `condition` until it returns a truthy value or `timeout` seconds pass; returns
    (value, seconds waited). Bounded in time by construction."""
    start = time.monotonic()
    while True:
        value = condition()
        elapsed = time.monotonic() - start
        if value or elapsed >= timeout:
            return value, elapsed
        time.sleep(interval)


def metric(cluster, node_id, name, labels=""):
    status, body = http_get(cluster.operator_url(node_id, "/metrics"))
    if status != 200:
        return None
    for line in body.splitlines():
        if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
            return float(line.split()[-1])
    return 0.0


# version: Wire.versionMajor (Sources/WireProtocol/Wire.swift).
def frame_header(length, crc=0, magic=0x504C, version=6, type_=20, flags=0, correlation=1):
    return struct.pack(">HBBBBQII", magic, version, type_, flags, 0, correlation, length, crc)


def temporary_directory(prefix):
    """A fresh directory, removed when this script exits (after the logs in it were printed):
    the nodes' preallocated WAL segments take hundreds of MiB per cluster."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, True)
    return path


class Runner:
    """Runs test functions in order; prints a closing 'N passed, N failed' line."""

    def __init__(self):
        self.passed, self.failed = 0, 0

    def run(self, name, function, *args):
        start = time.monotonic()
        try:
            function(*args)
            self.passed += 1
            print(f"PASS {name} ({time.monotonic() - start:.1f} s)", flush=True)
        except Exception:
            self.failed += 1
            print(f"FAIL {name} ({time.monotonic() - start:.1f} s)", flush=True)
            traceback.print_exc()

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1


def start_ready(cluster, timeout=60):
    """Starts every node of `cluster` and waits until each answers /ready; if one does not, prints
    the logs, ends the nodes and returns False."""
    cluster.start_all()
    ready, _ = wait_until(lambda: all(request(cluster, n, "GET", "/ready")[0] == 200 for n in cluster.nodes), timeout)
    if not ready:
        print("the cluster did not become ready")
        for node in cluster.nodes:
            print(cluster.log_excerpt(node))
        cluster.stop_all()
    return ready


def run_on_cluster(cluster, tests):
    """Runs each (name, function) of `tests` on `cluster`, then ends the cluster's processes by PID
    (resuming any it left paused first) and prints each node's log excerpt if a test failed;
    returns the exit code."""
    runner = Runner()
    try:
        for name, function in tests:
            runner.run(name, function, cluster)
    finally:
        for process in cluster.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
        cluster.stop_all()
        if runner.failed:
            for node in cluster.nodes:
                print(cluster.log_excerpt(node))
    return runner.finish()


def request(cluster, node, method, path, body=None, token=None, timeout=6.0, headers=None):
    """(status, json) of one API request to a node, or (None, error) when the node did not answer."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(cluster.url(node, path), data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, None
    except Exception as error:  # noqa: BLE001 - timeouts, refused, reset: outcome unknown
        return None, str(error)


def placement_shard(key, shards):
    """Placement.shard(forKey:): mix64(FNV-1a 64 of the UTF-8 key) modulo the shard count."""
    mask = (1 << 64) - 1
    h = 0xCBF29CE484222325
    for byte in key.encode():
        h = ((h ^ byte) * 0x100000001B3) & mask
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & mask
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & mask
    h ^= h >> 33
    return h % shards


def shard_primary(cluster, key, view_node="n1"):
    """The primary of `key`'s shard, as `view_node` sees the cluster."""
    view = cluster_view(cluster, view_node)
    return view["shards"]["table"][placement_shard(key, view["shards"]["count"])]["primary"]


class User:
    """A user signed up through `node` (a unique name starting with `prefix`)."""

    def __init__(self, cluster, node, prefix):
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        status, body = request(cluster, node, "POST", "/v1/auth/signup",
                               {"username": name, "email": f"{name}@example.com", "password": "correct horse"},
                               timeout=15)
        assert status == 201, f"signup {name} on {node}: {status} {body}"
        self.id, self.name = body["user"]["id"], name
        self.token, self.refresh = body["access_token"], body["refresh_token"]


def call(cluster, node, method, path, user, body=None, headers=None):
    """`request` with `user`'s access token."""
    return request(cluster, node, method, path, body=body, token=user.token, timeout=15, headers=headers)


def ensure_websockets():
    try:
        import websockets  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "websockets"], check=True)





def befriend(cluster, a, b):
    assert call(cluster, "n1", "POST", f"/v1/friends/{b.id}", a)[0] == 200
    assert call(cluster, "n2", "POST", f"/v1/friends/{a.id}", b) == (200, {"state": "friend"})


class Socket:
    """A WebSocket of `user` on `node`, whose frames are read into pushes and replies."""

    def __init__(self, cluster, node, user, resume=None):
        from websockets.sync.client import connect
        url = cluster.url(node, "/v1/ws").replace("http://", "ws://") + (f"?resume={resume}" if resume else "")
        self.ws = connect(url, additional_headers={"Authorization": f"Bearer {user.token}"}, open_timeout=10)
        self.frames = []
        welcome = self.next(lambda f: f.get("push") == "welcome", timeout=10)
        assert welcome and welcome["data"]["node"] == node, welcome
        self.session_id, self.resume_token = welcome["data"]["session_id"], welcome["data"]["resume_token"]

    def drop(self):
        """Ends the connection without a close frame, as a lost network does."""
        import socket as sockets
        self.ws.socket.shutdown(sockets.SHUT_RDWR)
        self.ws.socket.close()

    def read(self, timeout):
        try:
            frame = json.loads(self.ws.recv(timeout=timeout))
        except TimeoutError:
            return None
        self.frames.append(frame)
        return frame

    def next(self, matches, timeout=10):
        """The first frame (already read or still to come) that `matches`, taken off the list."""
        deadline = time.monotonic() + timeout
        while True:
            for frame in self.frames:
                if matches(frame):
                    self.frames.remove(frame)
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.read(min(left, 1.0))

    def presence_of(self, user, status, timeout=10):
        frame = self.next(lambda f: f.get("push") == "presence" and f["data"]["user_id"] == user.id
                          and f["data"]["status"] == status, timeout)
        return frame and frame["data"]

    def statuses_of(self, user):
        """Every presence status pushed so far for `user`, in order (read without waiting more)."""
        while self.read(0.05) is not None:
            pass
        return [f["data"]["status"] for f in self.frames
                if f.get("push") == "presence" and f["data"]["user_id"] == user.id]

    def ask(self, op, data):
        id_ = uuid.uuid4().hex[:8]
        self.ws.send(json.dumps({"op": op, "id": id_, "data": data}))
        reply = self.next(lambda f: f.get("id") == id_ and "ok" in f)
        assert reply is not None, f"no reply to {op}"
        return reply

    def close(self):
        self.ws.close()
