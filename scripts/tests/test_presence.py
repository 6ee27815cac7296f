#!/usr/bin/env python3
"""Presence, pushes and revocation across three real `plume node` processes, users on WebSockets
spread over the nodes: friends see each other come online, set a status and rich presence, go
invisible and go offline (at once on a clean close); a second device changes nothing others
see; chat messages, friend changes and notifications reach every socket of the users they
concern, on whatever node it is; a logout on another node closes the session's socket with
4001. Then the node holding some users' only sockets is killed with SIGKILL: their friends see
`reconnecting` (also for a user whose presence owner died with it), then `offline` once the
grace window ends — except for the user who reconnects to another node within it, who never
shows `offline` and keeps the status they set; and a user whose socket lives elsewhere but whose
presence owner was the killed node keeps their status and rich presence, their friend seeing
no change at all. A dropped socket (no close frame) is resumed with `?resume=` on its node and
on another, with the session and the pushes it missed; a client that answers no ping is closed
after a heartbeat (keepalive) and shows `reconnecting`. `websockets` is installed from PyPI when
missing."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import (Cluster, Socket, User, befriend, call, ensure_websockets,  # noqa: E402
                       run_on_cluster, start_ready, shard_primary)

GRACE_MS = 4000


STATE = {}


def test_friends_see_each_other_come_online_set_a_status_and_go_offline(cluster):
    a, b = User(cluster, "n1", "ann"), User(cluster, "n2", "bob")
    befriend(cluster, a, b)
    STATE.update(a=a, b=b)
    watcher = Socket(cluster, "n2", b)
    started = time.monotonic()
    mine = Socket(cluster, "n1", a)
    seen = watcher.presence_of(a, "online")
    assert seen and seen["rich"] == {}, seen
    print(f"  a's socket on n1 reached b on n2 as 'online' in {1000 * (time.monotonic() - started):.0f} ms")
    assert mine.presence_of(a, "online"), "a's own socket is told too"

    changed = time.monotonic()
    reply = mine.ask("presence.set", {"status": "looking_to_play", "rich": {"map": "dust2", "connect": "+join 7"}})
    assert reply["ok"] and reply["data"]["presence"]["status"] == "looking_to_play", reply
    seen = watcher.presence_of(a, "looking_to_play", timeout=1)
    assert seen and seen["rich"] == {"map": "dust2", "connect": "+join 7"}, "the friend sees the change within 1 s"
    print(f"  a's status change reached b in {1000 * (time.monotonic() - changed):.0f} ms")
    status, body = call(cluster, "n3", "GET", f"/v1/presence/{a.id}", b)
    assert status == 200 and body["status"] == "looking_to_play", (status, body)
    reply = watcher.ask("presence.get", {"user_ids": [a.id, b.id]})
    assert {p["user_id"]: p["status"] for p in reply["data"]["presences"]} == {a.id: "looking_to_play",
                                                                             b.id: "online"}, reply

    # Bad values are refused, and change nothing.
    for data, code in [({"status": "sleeping"}, "invalid_status"),
                       ({"status": "away", "rich": {f"k{i}": "v" for i in range(31)}}, "invalid_rich")]:
        reply = mine.ask("presence.set", data)
        assert not reply["ok"] and reply["error"]["code"] == code, reply

    # Invisible: offline to friends, invisible to the user.
    assert mine.ask("presence.set", {"status": "invisible"})["ok"]
    assert watcher.presence_of(a, "offline"), "invisible shows offline to friends"
    assert mine.presence_of(a, "invisible")
    status, body = call(cluster, "n1", "GET", f"/v1/presence/{a.id}", b)
    assert (status, body["status"]) == (200, "offline"), body

    # A second device changes nothing others see; closing the last socket shows offline at once.
    assert mine.ask("presence.set", {"status": "away"})["ok"]
    assert watcher.presence_of(a, "away")
    second = Socket(cluster, "n3", a)
    mine.close()
    time.sleep(0.5)
    assert watcher.statuses_of(a) == [], "a's other device keeps them away"
    second.close()
    assert watcher.presence_of(a, "offline", timeout=5), "the last clean close shows offline at once"
    watcher.close()


def test_messages_friend_changes_and_notifications_reach_every_socket(cluster):
    a, b = STATE["a"], STATE["b"]
    a1, a3, b2 = Socket(cluster, "n1", a), Socket(cluster, "n3", a), Socket(cluster, "n2", b)
    reply = a1.ask("chat.send", {"to": b.id, "text": "gg"})
    assert reply["ok"], reply
    for socket_ in (a1, a3, b2):
        frame = socket_.next(lambda f: f.get("push") == "chat_message", timeout=5)
        assert frame and frame["data"]["message"]["text"] == "gg", frame
    status, _ = call(cluster, "n3", "POST", f"/v1/messages/{a.id}", b, {"text": "rematch?"})
    assert status == 201
    for socket_ in (a1, a3, b2):
        frame = socket_.next(lambda f: f.get("push") == "chat_message", timeout=5)
        assert frame and frame["data"]["message"]["text"] == "rematch?", frame

    c = User(cluster, "n2", "cid")
    assert call(cluster, "n2", "POST", f"/v1/friends/{a.id}", c)[0] == 200
    for socket_ in (a1, a3):
        frame = socket_.next(lambda f: f.get("push") == "friend", timeout=5)
        assert frame and frame["data"] == {"user_id": c.id, "state": "request_received"}, frame
        frame = socket_.next(lambda f: f.get("push") == "notification", timeout=5)
        assert frame and frame["data"]["kind"] == "friend_request" and not frame["data"]["read"], frame
        assert frame["data"]["data"] == {"user_id": c.id}, frame
    # Accepted through a socket's node, then c comes online: a sees it.
    assert call(cluster, "n3", "POST", f"/v1/friends/{c.id}", a) == (200, {"state": "friend"})
    frame = a1.next(lambda f: f.get("push") == "friend" and f["data"]["state"] == "friend", timeout=5)
    assert frame and frame["data"]["user_id"] == c.id, frame
    c2 = Socket(cluster, "n2", c)
    assert a1.presence_of(c, "online") and a3.presence_of(c, "online"), "a new friend's presence reaches a"
    # Removed: no more presence of c.
    assert call(cluster, "n1", "DELETE", f"/v1/friends/{c.id}", a)[0] == 204
    assert a1.next(lambda f: f.get("push") == "friend" and f["data"]["state"] == "none", timeout=5)
    assert a3.next(lambda f: f.get("push") == "friend" and f["data"]["state"] == "none", timeout=5)
    assert c2.ask("presence.set", {"status": "busy"})["ok"]
    time.sleep(0.5)
    s1, s3 = a1.statuses_of(c), a3.statuses_of(c)
    assert s1 == [] and s3 == [], f"a former friend's presence is not pushed: {s1} {s3}"
    for socket_ in (a1, a3, b2, c2):
        socket_.close()


def test_a_logout_on_another_node_closes_the_sessions_socket(cluster):
    from websockets.exceptions import ConnectionClosed
    d = User(cluster, "n3", "dee")
    socket_ = Socket(cluster, "n1", d)
    assert call(cluster, "n2", "POST", "/v1/auth/logout", d)[0] == 204
    assert socket_.next(lambda f: f.get("push") == "session_revoked", timeout=5), "session_revoked is pushed"
    deadline = time.monotonic() + 5
    code = None
    while time.monotonic() < deadline:
        try:
            socket_.ws.recv(timeout=1)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            break
        except TimeoutError:
            pass
    assert code == 4001, f"closed with {code}"


def test_a_dropped_socket_is_resumed_with_what_it_missed_on_any_node(cluster):
    a, b = User(cluster, "n1", "res"), User(cluster, "n2", "tor")
    befriend(cluster, a, b)
    watcher = Socket(cluster, "n2", b)
    for node, resume_on in [("n1", "n1"), ("n1", "n3")]:
        first = Socket(cluster, node, a)
        assert watcher.presence_of(a, "online"), "a is seen"
        assert first.ask("presence.set", {"status": "busy"})["ok"]
        watcher.presence_of(a, "busy", timeout=5)
        first.drop()
        assert watcher.presence_of(a, "reconnecting", timeout=5), "a dropped connection shows reconnecting"
        # Pushes a misses while away: a message and a friend's presence.
        status, body = call(cluster, "n2", "POST", f"/v1/messages/{a.id}", b, {"text": f"still there? {resume_on}"})
        assert status == 201, (status, body)
        assert watcher.ask("presence.set", {"status": "away"})["ok"]
        time.sleep(0.3)
        back = Socket(cluster, resume_on, a, resume=first.resume_token)
        assert back.session_id == first.session_id, f"resumed on {resume_on}: the same session"
        assert back.resume_token != first.resume_token
        missed = back.next(lambda f: f.get("push") == "chat_message", timeout=5)
        assert missed and missed["data"]["message"]["text"] == f"still there? {resume_on}", missed
        assert back.presence_of(b, "away"), "a friend's presence it missed"
        assert watcher.presence_of(a, "busy", timeout=5), "back as they were"
        assert "offline" not in watcher.statuses_of(a), "never offline while away"
        assert watcher.ask("presence.set", {"status": "online"})["ok"]
        back.close()
        assert watcher.presence_of(a, "offline", timeout=5), "a clean close shows offline at once"
        watcher.frames.clear()
    # A token that was used, or never given, starts a new session.
    fresh = Socket(cluster, "n1", a, resume=back.resume_token)
    assert fresh.session_id != back.session_id
    fresh.close()
    other = Socket(cluster, "n1", a, resume="n9.nothing")
    assert other.session_id != back.session_id
    other.close()
    watcher.close()


def test_a_client_that_answers_no_ping_is_dropped_and_shows_reconnecting(cluster):
    """Keepalive: heartbeat_ms is 2000 here. A client that upgrades, then neither reads nor answers
    the server's pings, is closed after a heartbeat without a pong; having sent no close frame, its
    socket counts as dropped: its friend sees it `reconnecting`."""
    import base64
    import socket as sockets
    a, b = User(cluster, "n1", "png"), User(cluster, "n2", "wat")
    befriend(cluster, a, b)
    watcher = Socket(cluster, "n2", b)
    raw = sockets.create_connection(("127.0.0.1", cluster.nodes["n1"]["http"]), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall((f"GET /v1/ws?token={a.token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    received = b""
    while b"\r\n\r\n" not in received:
        received += raw.recv(4096)
    assert received.startswith(b"HTTP/1.1 101"), received[:40]
    assert watcher.presence_of(a, "online"), "a is online"
    started = time.monotonic()
    raw.settimeout(1)
    closed = False
    while time.monotonic() - started < 15:
        try:
            chunk = raw.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            closed = True
            break
        received += chunk
    elapsed = time.monotonic() - started
    raw.close()
    assert b"\x89" in received, "the server pinged"
    assert closed, "a client that answers no ping is closed"
    assert 2 <= elapsed <= 10, f"closed after {elapsed:.1f} s (heartbeat 2 s)"
    assert watcher.presence_of(a, "reconnecting", timeout=5), "a dropped connection shows reconnecting"
    print(f"  closed {elapsed:.1f} s after the upgrade")
    watcher.close()


def owner(cluster, user, view_node="n1"):
    return shard_primary(cluster, f"presence/{user.id}", view_node)


def user_owned(cluster, by_n3):
    """A new user whose presence owner is (or is not) n3."""
    for _ in range(60):
        user = User(cluster, "n1", "kay")
        if (owner(cluster, user) == "n3") == by_n3:
            return user
    raise AssertionError("no user with that owner in 60 sign-ups")


def set_up_a_presence_owned_by_n3(cluster):
    """The node that owns a user's presence is killed while the user's socket lives on another
    node: the new owner learns it from that node's announcement, status and rich presence
    included, and the user's friend never sees them go offline or reconnecting."""
    w = User(cluster, "n1", "wch")
    kept = user_owned(cluster, True)
    befriend(cluster, w, kept)
    watcher = Socket(cluster, "n2", w)
    mine = Socket(cluster, "n1", kept)
    assert watcher.presence_of(kept, "online")
    assert mine.ask("presence.set", {"status": "looking_to_trade", "rich": {"item": "ak-47"}})["ok"]
    assert watcher.presence_of(kept, "looking_to_trade")
    STATE["owner_killed"] = (w, kept, watcher, mine)


def check_a_killed_owner_lost_no_presence(cluster):
    w, kept, watcher, mine = STATE["owner_killed"]
    new_owner = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new_owner = owner(cluster, kept)
        status, body = call(cluster, "n2", "GET", f"/v1/presence/{kept.id}", w)
        if new_owner != "n3" and status == 200 and body["status"] == "looking_to_trade":
            break
        time.sleep(0.2)
    assert new_owner != "n3", "the ring still names the killed node"
    assert (status, body["status"], body["rich"]) == (200, "looking_to_trade", {"item": "ak-47"}), (status, body)
    seen = watcher.statuses_of(kept)
    assert "offline" not in seen and "reconnecting" not in seen, f"the friend saw {seen}"
    # The new owner keeps serving it: a change reaches the friend.
    assert mine.ask("presence.set", {"status": "away"})["ok"]
    assert watcher.presence_of(kept, "away", timeout=5)
    print(f"  the presence owned by n3 moved to {new_owner} with its status and rich presence")
    mine.close()
    watcher.close()


def test_a_killed_nodes_users_show_reconnecting_then_offline_unless_they_come_back(cluster):
    w = User(cluster, "n1", "wat")
    kept, orphaned, back = user_owned(cluster, False), user_owned(cluster, True), user_owned(cluster, False)
    for user in (kept, orphaned, back):
        befriend(cluster, w, user)
    watcher = Socket(cluster, "n1", w)
    sockets = {user.id: Socket(cluster, "n3", user) for user in (kept, orphaned, back)}
    for user in (kept, orphaned, back):
        assert watcher.presence_of(user, "online"), user.name
    assert sockets[back.id].ask("presence.set", {"status": "away", "rich": {"map": "nuke"}})["ok"]
    assert watcher.presence_of(back, "away")

    set_up_a_presence_owned_by_n3(cluster)
    cluster.signal("n3", signal.SIGKILL)
    cluster.processes["n3"].wait(timeout=10)
    killed = time.monotonic()
    for user in (kept, orphaned, back):
        seen = watcher.presence_of(user, "reconnecting", timeout=20)
        assert seen, f"{user.name} (owner {'n3' if user is orphaned else 'alive'}) never showed reconnecting"
        print(f"  {user.name} showed reconnecting {time.monotonic() - killed:.1f} s after the kill")
    # `back` reconnects to another node within the grace window: back as they were.
    returned = Socket(cluster, "n2", back)
    seen = watcher.presence_of(back, "away", timeout=10)
    assert seen and seen["rich"] == {"map": "nuke"}, seen
    for user in (kept, orphaned):
        assert watcher.presence_of(user, "offline", timeout=GRACE_MS / 1000 + 15), f"{user.name} never went offline"
        print(f"  {user.name} showed offline {time.monotonic() - killed:.1f} s after the kill")
    assert "offline" not in watcher.statuses_of(back), "the user who came back never showed offline"
    status, body = call(cluster, "n2", "GET", f"/v1/presence/{back.id}", w)
    assert status == 200 and body["status"] == "away", (status, body)
    for user in (kept, orphaned):
        status, body = call(cluster, "n2", "GET", f"/v1/presence/{user.id}", w)
        assert status == 200 and body["status"] == "offline", (user.name, status, body)
    returned.close()
    watcher.close()
    check_a_killed_owner_lost_no_presence(cluster)


def main():
    ensure_websockets()
    cluster = Cluster(3, realtime={"reconnect_grace_ms": GRACE_MS, "heartbeat_ms": 2000},
                      membership={"probe_interval_ms": 300, "probe_timeout_ms": 120, "suspicion_min_ms": 800})
    if not start_ready(cluster):
        return 1
    return run_on_cluster(cluster, [
        ("friends see each other come online, set a status and go offline",
         test_friends_see_each_other_come_online_set_a_status_and_go_offline),
        ("messages, friend changes and notifications reach every socket",
         test_messages_friend_changes_and_notifications_reach_every_socket),
        ("a logout on another node closes the session's socket", test_a_logout_on_another_node_closes_the_sessions_socket),
        ("a dropped socket is resumed with what it missed, on any node",
         test_a_dropped_socket_is_resumed_with_what_it_missed_on_any_node),
        ("a client that answers no ping is dropped and shows reconnecting",
         test_a_client_that_answers_no_ping_is_dropped_and_shows_reconnecting),
        ("a killed node's users show reconnecting, then offline unless they come back; its owned presence moves whole",
         test_a_killed_nodes_users_show_reconnecting_then_offline_unless_they_come_back),
    ])


if __name__ == "__main__":
    sys.exit(main())
