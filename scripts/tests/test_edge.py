#!/usr/bin/env python3
"""The HTTP edge of real `plume node` processes: the admin listener alone serves /metrics and
/v1/cluster, each signed-in user's writes are braked (429 with Retry-After) while reads and other
users go on, bad bearer tokens are refused, and every answer carries X-Request-Id."""

import json
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import Cluster, Runner, http_get, wait_until  # noqa: E402


def call(url, method="GET", body=None, token=None, authorization=None):
    """(status, headers, body) of one request, the body parsed when it is JSON; (None, {}, error)
    when nothing answered."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, parsed(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers, parsed(error)
    except OSError as error:
        return None, {}, str(error)


def parsed(response):
    raw = response.read()
    if "json" in (response.headers.get("Content-Type") or ""):
        return json.loads(raw)
    return raw.decode(errors="replace")


def signup(cluster, name):
    status, _, body = call(cluster.url("n1", "/v1/auth/signup"), "POST",
                           {"username": name, "email": f"{name}@example.com", "password": "correct horse"})
    assert status == 201, f"signup {name}: {status} {body}"
    return body["access_token"]


def test_operator_routes_live_on_the_admin_listener(cluster):
    for path in ["/metrics", "/v1/cluster"]:
        status, headers, _ = call(cluster.url("n1", path))
        assert status == 404, f"{path} on the API listener: {status}"
        assert headers.get("X-Request-Id"), f"{path}: no X-Request-Id on the 404"
        status, headers, body = call(cluster.operator_url("n1", path))
        assert status == 200, f"{path} on the admin listener: {status}"
        if path == "/metrics":
            assert "plume_" in body, "no plume metric in /metrics"
        assert headers.get("X-Request-Id"), f"{path}: no X-Request-Id"
    for url in [cluster.url("n1", "/health"), cluster.operator_url("n1", "/health")]:
        assert http_get(url)[0] == 200, url
    # The admin listener serves nothing of the API.
    assert call(cluster.operator_url("n1", "/v1/users/me"))[0] == 404
    status, _, view = call(cluster.operator_url("n1", "/v1/cluster"))
    assert view["node"] == "n1" and view["ready"], view


def test_each_users_writes_are_braked(cluster):
    ana, bob = signup(cluster, "ana"), signup(cluster, "bob")
    me = cluster.url("n1", "/v1/users/me")
    for index in range(3):
        status, _, body = call(me, "PATCH", {"bio": f"take {index}"}, token=ana)
        assert status == 200, f"write {index}: {status} {body}"
    status, headers, body = call(me, "PATCH", {"bio": "one too many"}, token=ana)
    assert status == 429 and body["error"]["code"] == "rate_limited", f"{status} {body}"
    assert 1 <= int(headers["Retry-After"]) <= 60, headers["Retry-After"]
    status, _, body = call(me, token=ana)
    assert status == 200 and body["bio"] == "take 2", f"the read after the refusal: {status} {body}"
    status, _, body = call(me, "PATCH", {"bio": "mine"}, token=bob)
    assert status == 200, f"another user: {status} {body}"


def test_bad_bearer_tokens_are_refused(cluster):
    me = cluster.url("n1", "/v1/users/me")
    for authorization in [None, "Basic YW5hOnB3", "Bearer not.a.token", "Bearer " + "x" * 5000]:
        status, headers, body = call(me, authorization=authorization)
        assert status == 401 and body["error"]["code"] == "unauthorized", f"{authorization!r:.40}: {status} {body}"
        assert headers.get("X-Request-Id")


def main():
    runner = Runner()
    cluster = Cluster(1, name="plume-edge", admin=True,
                      gateway={"user_writes_burst": 3, "user_writes_per_minute": 1})
    try:
        cluster.start_all()
        ready, _ = wait_until(lambda: http_get(cluster.url("n1", "/ready"))[0] == 200, 30)
        if not ready:
            print(cluster.log_excerpt("n1"))
            return 1
        runner.run("operator routes live on the admin listener", test_operator_routes_live_on_the_admin_listener,
                   cluster)
        runner.run("each user's writes are braked", test_each_users_writes_are_braked, cluster)
        runner.run("bad bearer tokens are refused", test_bad_bearer_tokens_are_refused, cluster)
        if runner.failed:
            print(cluster.log_excerpt("n1"))
    finally:
        cluster.stop_all()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
