#!/usr/bin/env python3
"""Mutual TLS between real `plume node` processes.

`plume certs init` makes a CA and a certificate per node; with `[tls]` in cluster.conf (paths
relative to it) three nodes form a cluster and serve sign-ups. On a node's cluster port, a client
without a certificate, one with a certificate from another CA, and one speaking plain TCP are
all refused (counted as `tls` rejections), and the node stays healthy."""

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import Cluster, frame_header, http_get, metric, run_on_cluster, statuses, wait_until  # noqa: E402


def certs_init(cluster, config, out):
    result = subprocess.run([cluster.binary, "certs", "init", "--config", config, "--out", out],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"plume certs init failed: {result.stdout}{result.stderr}"
    for name in ["ca.pem", "ca.key"] + [f"{n}.{ext}" for n in cluster.nodes for ext in ("pem", "key")]:
        assert os.path.exists(os.path.join(out, name)), f"{name} missing in {out}"
    assert oct(os.stat(os.path.join(out, "n1.key")).st_mode & 0o777) == "0o600", "a node key is readable by others"


def refused(port, context):
    """Whether the node closes a connection made with `context` (plain TCP when None) without a
    Plume frame in answer to a hello's header (a TLS alert is all a plain client gets)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.settimeout(5)
        received = b""
        try:
            conn = context.wrap_socket(raw, server_hostname=None) if context else raw
            conn.sendall(frame_header(0, type_=1))
            while len(received) < 65536:
                data = conn.recv(4096)
                if not data:
                    break
                received += data
        except (ssl.SSLError, ConnectionError, OSError):
            pass
        return not received.startswith(b"PL")


def signup(cluster, node, name):
    body = json.dumps({"username": name, "email": f"{name}@example.com", "password": "password-" + name}).encode()
    req = urllib.request.Request(cluster.url(node, "/v1/auth/signup"), data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def test_a_tls_cluster_forms_and_refuses_strangers(cluster):
    certs = os.path.join(cluster.dir, "certs")
    certs_init(cluster, cluster.config, certs)
    with open(cluster.config, "a") as f:
        f.write('\n[tls]\nca = "certs/ca.pem"\ncert = "certs/{node}.pem"\nkey = "certs/{node}.key"\n')
    # A second CA, from a copy of the configuration elsewhere: its certificates are strangers'.
    other = os.path.join(cluster.dir, "other")
    os.makedirs(other)
    shutil.copy(cluster.config, os.path.join(other, "cluster.conf"))
    certs_init(cluster, os.path.join(other, "cluster.conf"), os.path.join(other, "certs"))
    # Refused a second time: a new CA over the old one would leave the nodes' certificates untrusted.
    again = subprocess.run([cluster.binary, "certs", "init", "--config", cluster.config, "--out", certs],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "already holds a CA" in again.stderr, again.stderr

    cluster.start_all()
    ids = list(cluster.nodes)
    ok, waited = wait_until(lambda: all((statuses(cluster, n) or {}).get(m) == "alive" for n in ids for m in ids), 40.0)
    assert ok, "the TLS cluster did not converge"
    print(f"  3 nodes with mutual TLS converged in {waited:.1f} s")
    ok, _ = wait_until(lambda: signup(cluster, "n2", "tls_player") == 201, 30.0, interval=0.5)
    assert ok, "no sign-up was acknowledged through the TLS cluster"

    port = cluster.nodes["n1"]["cluster"]
    before = metric(cluster, "n1", "plume_frames_rejected_total", '{reason="tls"}') or 0.0
    no_certificate = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    no_certificate.check_hostname = False
    no_certificate.verify_mode = ssl.CERT_NONE
    other_ca = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    other_ca.check_hostname = False
    other_ca.verify_mode = ssl.CERT_NONE
    other_ca.load_cert_chain(os.path.join(other, "certs", "n2.pem"), os.path.join(other, "certs", "n2.key"))
    assert refused(port, no_certificate), "a client without a certificate was answered"
    assert refused(port, other_ca), "a client with another CA's certificate was answered"
    assert refused(port, None), "a plain TCP client was answered"
    ok, _ = wait_until(lambda: (metric(cluster, "n1", "plume_frames_rejected_total", '{reason="tls"}') or 0) >= before + 3,
                       10.0)
    assert ok, "the refusals were not counted as tls rejections"

    # Still healthy: ready, the cluster whole, and sign-ups through the node go on.
    assert http_get(cluster.url("n1", "/ready"))[0] == 200, "n1 is no longer ready"
    assert all((statuses(cluster, "n1") or {}).get(m) == "alive" for m in ids), "n1 lost a peer"
    ok, _ = wait_until(lambda: signup(cluster, "n1", "tls_player_2") == 201, 30.0, interval=0.5)
    assert ok, "no sign-up through n1 after the strangers"


def main():
    return run_on_cluster(Cluster(3, name="plume-tls"), [
        ("a TLS cluster forms and refuses strangers", test_a_tls_cluster_forms_and_refuses_strangers),
    ])


if __name__ == "__main__":
    sys.exit(main())
