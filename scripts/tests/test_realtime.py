#!/usr/bin/env python3
"""The WebSocket edge (`GET /v1/ws`) of a real `plume node`: a missing or bad token gets 401 before
the upgrade; the first frame is `welcome`; `ping` answers; bad frames (not JSON, binary, no op, an
unknown op, data of the wrong shape) get their error reply and the socket stays open; friends chat
over it and every socket of both sides gets `chat_message`; a frame over `max_frame_bytes` closes
the socket with 1009; a logout, or a replayed refresh token (which revokes its session), closes
the session's socket with 4001 after `session_revoked`; a
client that stops reading is disconnected once its send queue is full. `websockets` is installed
from PyPI when missing."""

import json
import os
import socket
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import Cluster, User, ensure_websockets, request, run_on_cluster, wait_until  # noqa: E402


def signup(cluster, prefix):
    """A user signed up through n1 (this test's one node)."""
    return User(cluster, "n1", prefix)


def ws_url(cluster, token=None):
    url = cluster.url("n1", "/v1/ws").replace("http://", "ws://")
    return f"{url}?token={token}" if token else url


def connect(cluster, user, **options):
    from websockets.sync.client import connect as ws_connect
    socket_ = ws_connect(ws_url(cluster), additional_headers={"Authorization": f"Bearer {user.token}"},
                         open_timeout=10, **options)
    welcome = json.loads(socket_.recv(timeout=10))
    assert welcome["push"] == "welcome", welcome
    return socket_, welcome


def ask(socket_, op, data=None, id_=None):
    """Sends a request and returns its reply (pushes that arrive before it are skipped)."""
    id_ = id_ if id_ is not None else uuid.uuid4().hex[:8]
    socket_.send(json.dumps({"op": op, "id": id_, "data": data or {}}))
    return reply_to(socket_, id_)


def reply_to(socket_, id_):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = json.loads(socket_.recv(timeout=10))
        if frame.get("id") == id_ and "ok" in frame:
            return frame
    raise AssertionError(f"no reply to {id_}")


def pushes(socket_, kind, count, timeout=10):
    found, deadline = [], time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        frame = json.loads(socket_.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame.get("push") == kind:
            found.append(frame["data"])
    return found


def test_a_missing_or_bad_token_is_refused_before_the_upgrade(cluster):
    """401 with the API's JSON error before the upgrade (hummingbird-websocket alone would
    answer 400), and the same without an upgrade; a valid token without one gets 426."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect as ws_connect
    for url, headers in [(ws_url(cluster), {}), (ws_url(cluster, "not-a-token"), {}),
                         (ws_url(cluster), {"Authorization": "Bearer nope"})]:
        try:
            ws_connect(url, additional_headers=headers, open_timeout=10).close()
            raise AssertionError(f"{url} upgraded without a valid token")
        except InvalidStatus as error:
            assert error.response.status_code == 401, error.response.status_code
            assert json.loads(error.response.body)["error"]["code"] == "unauthorized", error.response.body
        # The same request without the upgrade: 401 as the contract says.
        path = "/v1/ws" + url.split("/v1/ws")[1]
        status, body = request(cluster, "n1", "GET", path, token="nope" if headers else None)
        assert status == 401 and body["error"]["code"] == "unauthorized", (status, body)
    user = signup(cluster, "tok")
    status, body = request(cluster, "n1", "GET", "/v1/ws", token=user.token)
    assert status == 426 and body["error"]["code"] == "upgrade_required", (status, body)
    from websockets.sync.client import connect as ws_connect
    with ws_connect(ws_url(cluster, user.token), open_timeout=10) as socket_:
        assert json.loads(socket_.recv(timeout=10))["push"] == "welcome"


def test_welcome_ping_and_bad_frames(cluster):
    user = signup(cluster, "pin")
    socket_, welcome = connect(cluster, user)
    with socket_:
        data = welcome["data"]
        assert set(data) == {"session_id", "resume_token", "node", "heartbeat_ms"}, data
        assert data["node"] == "n1" and data["heartbeat_ms"] == 15000, data
        assert ask(socket_, "ping", id_=7) == {"id": 7, "ok": True, "data": {}}
        assert ask(socket_, "ping", id_="a") == {"id": "a", "ok": True, "data": {}}
        socket_.send("not json")
        frame = json.loads(socket_.recv(timeout=10))
        assert frame["id"] is None and frame["ok"] is False and frame["error"]["code"] == "malformed_frame", frame
        socket_.send(b"\x00\x01binary")
        assert json.loads(socket_.recv(timeout=10))["error"]["code"] == "malformed_frame"
        socket_.send(json.dumps({"id": 3}))
        assert json.loads(socket_.recv(timeout=10))["error"]["code"] == "malformed_frame"
        frame = ask(socket_, "nope.op", id_=4)
        assert frame["id"] == 4 and frame["error"]["code"] == "unknown_op", frame
        frame = ask(socket_, "presence.get", {"user_ids": "me"}, id_=5)
        assert frame["error"]["code"] == "invalid_user_ids", frame
        frame = ask(socket_, "chat.send", {"to": user.id}, id_=6)
        assert frame["error"]["code"] == "invalid_text", frame
        frame = ask(socket_, "presence.get", {"user_ids": [user.id, str(uuid.uuid4())]})
        assert [p["user_id"] for p in frame["data"]["presences"]] == [user.id], frame
        assert ask(socket_, "ping", id_=8)["ok"], "the socket stays open after bad frames"


def test_friends_chat_and_every_socket_of_both_sides_gets_the_message(cluster):
    a, b = signup(cluster, "ann"), signup(cluster, "bob")
    assert request(cluster, "n1", "POST", f"/v1/friends/{b.id}", token=a.token)[0] == 200
    assert request(cluster, "n1", "POST", f"/v1/friends/{a.id}", token=b.token)[1] == {"state": "friend"}
    a1, _ = connect(cluster, a)
    a2, _ = connect(cluster, a)
    b1, _ = connect(cluster, b)
    with a1, a2, b1:
        frame = ask(a1, "chat.send", {"to": b.id, "text": "gg"})
        assert frame["ok"], frame
        message = frame["data"]["message"]
        assert (message["from"], message["to"], message["text"]) == (a.id, b.id, "gg"), message
        for socket_ in (a2, b1):
            got = pushes(socket_, "chat_message", 1)
            assert got and got[0]["message"] == message, got
        frame = ask(b1, "chat.history", {"with": a.id, "limit": 10})
        assert [m["text"] for m in frame["data"]["messages"]] == ["gg"] and frame["data"]["next_cursor"] is None
        stranger = signup(cluster, "str")
        s1, _ = connect(cluster, stranger)
        with s1:
            frame = ask(s1, "chat.send", {"to": a.id, "text": "hi"})
            assert frame["error"]["code"] == "not_friends", frame
            frame = ask(s1, "presence.get", {"user_ids": [a.id]})
            assert frame["data"]["presences"] == [], "a stranger sees no presence"


def test_a_frame_over_max_frame_bytes_closes_with_1009(cluster):
    from websockets.exceptions import ConnectionClosed
    user = signup(cluster, "big")
    socket_, _ = connect(cluster, user, max_size=None)
    try:
        socket_.send(json.dumps({"op": "ping", "id": 1, "data": {"pad": "x" * 5000}}))  # max_frame_bytes = 4096
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            socket_.recv(timeout=10)
        raise AssertionError("the socket stayed open")
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
        assert code == 1009, f"closed with {code}"


def test_a_logout_closes_the_sessions_socket_with_4001(cluster):
    user = signup(cluster, "out")
    socket_, _ = connect(cluster, user)
    assert request(cluster, "n1", "POST", "/v1/auth/logout", token=user.token)[0] == 204
    expect_revoked(socket_)


def test_a_replayed_refresh_token_closes_the_sessions_socket(cluster):
    """A refresh token presented a second time revokes its session (it was stolen or replayed):
    the session's socket is told and closed, as for a logout."""
    user = signup(cluster, "rpl")
    socket_, _ = connect(cluster, user)
    status, body = request(cluster, "n1", "POST", "/v1/auth/refresh", {"refresh_token": user.refresh})
    assert status == 200, (status, body)
    status, body = request(cluster, "n1", "POST", "/v1/auth/refresh", {"refresh_token": user.refresh})
    assert status == 401, (status, body)
    expect_revoked(socket_)


def expect_revoked(socket_):
    from websockets.exceptions import ConnectionClosed
    seen = []
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            seen.append(json.loads(socket_.recv(timeout=10)).get("push"))
        raise AssertionError("the socket stayed open")
    except ConnectionClosed as closed:
        assert "session_revoked" in seen, seen
        assert closed.rcvd and closed.rcvd.code == 4001, closed.rcvd


def test_a_client_that_stops_reading_is_disconnected(cluster):
    """send_queue_max = 16 here: b stops reading while a sends it 3 KB messages (4 in flight, at
    most 3,000: a's own queue, which gets each reply and each message too, stays under its
    bound); b's node drops b's socket instead of queueing for ever, and a goes on."""
    from websockets.sync.client import connect as ws_connect
    a, b = signup(cluster, "fst"), signup(cluster, "slw")
    assert request(cluster, "n1", "POST", f"/v1/friends/{b.id}", token=a.token)[0] == 200
    assert request(cluster, "n1", "POST", f"/v1/friends/{a.id}", token=b.token)[0] == 200
    raw = socket.create_connection(("127.0.0.1", cluster.nodes["n1"]["http"]))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow = ws_connect(ws_url(cluster, b.token), sock=raw, open_timeout=10, max_queue=1)
    fast, _ = connect(cluster, a, max_queue=None)  # a reads everything it is sent
    started = time.monotonic()
    with fast:
        text = "y" * 3000
        def dropped(user):
            return any("disconnected a slow consumer" in line and f"realtime/user={user.id}" in line
                       for line in cluster.log("n1").splitlines())

        for index in range(3000):
            fast.send(json.dumps({"op": "chat.send", "id": index, "data": {"to": b.id, "text": f"{index} {text}"}}))
            if index % 4 == 3:
                for id_ in range(index - 3, index + 1):
                    reply_to(fast, id_)
            if index % 100 == 99 and dropped(b):
                break
        assert wait_until(lambda: dropped(b), timeout=20)[0], "the slow socket was never dropped"
        assert not dropped(a), "the client that reads was dropped"
        print(f"  dropped after {time.monotonic() - started:.1f} s, {index + 1} messages sent")
        assert ask(fast, "ping")["ok"], "the fast client goes on"
    slow.close_socket()


def main():
    ensure_websockets()
    cluster = Cluster(1, name="realtime-test",
                      realtime={"max_frame_bytes": 4096, "send_queue_max": 16, "chat_burst": 5000,
                                "chat_per_minute": 60000})
    cluster.start_all()
    if not wait_until(lambda: request(cluster, "n1", "GET", "/ready")[0] == 200, timeout=60)[0]:
        print(cluster.log_excerpt("n1"))
        cluster.stop_all()
        return 1
    return run_on_cluster(cluster, [
        ("a missing or bad token is refused before the upgrade",
         test_a_missing_or_bad_token_is_refused_before_the_upgrade),
        ("welcome, ping and bad frames", test_welcome_ping_and_bad_frames),
        ("friends chat and every socket of both sides gets the message",
         test_friends_chat_and_every_socket_of_both_sides_gets_the_message),
        ("a frame over max_frame_bytes closes with 1009", test_a_frame_over_max_frame_bytes_closes_with_1009),
        ("a logout closes the session's socket with 4001", test_a_logout_closes_the_sessions_socket_with_4001),
        ("a replayed refresh token closes the session's socket",
         test_a_replayed_refresh_token_closes_the_sessions_socket),
        ("a client that stops reading is disconnected", test_a_client_that_stops_reading_is_disconnected),
    ])


if __name__ == "__main__":
    sys.exit(main())
