#!/usr/bin/env python3
"""Friends, direct messages and notifications across three real `plume node` processes: two users
on different nodes become friends (each side sees it through any node, with a notification),
message each other, page their history; a stranger is refused and sees no presence; a block
refuses requests and messages both ways; a user's sends are braked (429); a logged-out session
is refused at once; everything acknowledged is still there after the node that took it is
killed with SIGKILL."""

import os
import signal
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import Cluster, User, call, run_on_cluster, start_ready, wait_until  # noqa: E402





def entry(cluster, node, user, other):
    status, body = call(cluster, node, "GET", "/v1/friends", user)
    assert status == 200, f"GET /v1/friends: {status} {body}"
    found = [f for f in body["friends"] if f["user"]["id"] == other.id]
    return found[0] if found else None


STATE = {}


def test_two_users_on_different_nodes_become_friends(cluster):
    a, b, c = User(cluster, "n1", "ann"), User(cluster, "n2", "bob"), User(cluster, "n3", "cid")
    STATE.update(a=a, b=b, c=c)
    status, body = call(cluster, "n1", "POST", f"/v1/friends/{b.id}", a)
    assert (status, body) == (200, {"state": "request_sent"}), (status, body)
    # Asking again changes nothing.
    assert call(cluster, "n2", "POST", f"/v1/friends/{b.id}", a) == (200, {"state": "request_sent"})
    seen = entry(cluster, "n3", b, a)
    assert seen and seen["state"] == "request_received" and seen["presence"] is None, seen
    assert seen["user"]["username"] == a.name and "email" not in seen["user"], seen
    status, body = call(cluster, "n2", "GET", "/v1/notifications", b)
    assert status == 200 and body["notifications"][0]["kind"] == "friend_request", body
    assert body["notifications"][0]["data"] == {"user_id": a.id} and body["next_cursor"] is None, body
    # b accepts by asking back, through another node.
    assert call(cluster, "n2", "POST", f"/v1/friends/{a.id}", b) == (200, {"state": "friend"})
    for node, user, other in [("n1", a, b), ("n3", b, a)]:
        seen = entry(cluster, node, user, other)
        assert seen["state"] == "friend", seen
        presence = seen["presence"]
        assert presence["user_id"] == other.id and presence["status"] == "offline", presence
        assert set(presence) == {"user_id", "status", "rich", "updated_at"}, presence
    status, body = call(cluster, "n1", "GET", "/v1/notifications", a)
    assert [n["kind"] for n in body["notifications"]] == ["friend_accepted"], body
    status, body = call(cluster, "n1", "GET", f"/v1/presence/{b.id}", a)
    assert status == 200 and body["user_id"] == b.id, (status, body)


def test_friends_message_each_other_and_page_the_history(cluster):
    a, b = STATE["a"], STATE["b"]
    sent = []
    for index in range(5):
        sender, receiver, node = (a, b, "n3") if index % 2 == 0 else (b, a, "n1")
        status, body = call(cluster, node, "POST", f"/v1/messages/{receiver.id}", sender, {"text": f"hello {index}"})
        assert status == 201, (status, body)
        message = body["message"]
        assert set(message) == {"id", "from", "to", "text", "sent_at"}, message
        assert (message["from"], message["to"], message["text"]) == (sender.id, receiver.id, f"hello {index}")
        sent.append(message)
    status, body = call(cluster, "n2", "GET", f"/v1/messages/{a.id}?limit=3", b)
    assert status == 200 and [m["text"] for m in body["messages"]] == ["hello 4", "hello 3", "hello 2"], body
    cursor = body["next_cursor"]
    assert isinstance(cursor, str), body
    status, body = call(cluster, "n1", "GET", f"/v1/messages/{b.id}?limit=3&before={cursor}", a)
    assert [m["text"] for m in body["messages"]] == ["hello 1", "hello 0"] and body["next_cursor"] is None, body
    # A message to a user with no socket is also a notification.
    status, body = call(cluster, "n2", "GET", "/v1/notifications?limit=100", b)
    kinds = [n["kind"] for n in body["notifications"]]
    assert kinds.count("message") == 3, kinds
    ids = [n["id"] for n in body["notifications"] if n["kind"] == "message"]
    assert call(cluster, "n3", "POST", "/v1/notifications/read", b, {"ids": ids[:2]}) == (204, None)
    assert call(cluster, "n1", "DELETE", f"/v1/notifications/{ids[2]}", b) == (204, None)
    status, body = call(cluster, "n2", "GET", "/v1/notifications?limit=100", b)
    read = {n["id"]: n["read"] for n in body["notifications"]}
    assert read[ids[0]] and read[ids[1]] and ids[2] not in read, read
    assert call(cluster, "n1", "DELETE", f"/v1/notifications/{ids[2]}", b)[0] == 404
    # Bad input: empty or oversized text, an unknown member, a bad cursor.
    for text in ["", "   ", "x" * 4097]:
        status, body = call(cluster, "n1", "POST", f"/v1/messages/{b.id}", a, {"text": text})
        assert status == 422 and body["error"]["code"] == "invalid_text", (status, body)
    status, body = call(cluster, "n1", "POST", f"/v1/messages/{b.id}", a, {"text": "hi", "to": "x"})
    assert status == 422 and body["error"]["code"] == "unknown_field", (status, body)
    status, body = call(cluster, "n1", "GET", f"/v1/messages/{b.id}?before=abc", a)
    assert status == 422 and body["error"]["code"] == "invalid_before", (status, body)


def test_a_stranger_is_refused_and_sees_nothing(cluster):
    a, c = STATE["a"], STATE["c"]
    status, body = call(cluster, "n3", "POST", f"/v1/messages/{a.id}", c, {"text": "hi"})
    assert status == 403 and body["error"]["code"] == "not_friends", (status, body)
    status, body = call(cluster, "n3", "GET", f"/v1/presence/{a.id}", c)
    assert status == 404, (status, body)
    assert call(cluster, "n3", "GET", f"/v1/presence/{c.id}", c)[0] == 200
    assert entry(cluster, "n3", c, a) is None
    status, body = call(cluster, "n3", "POST", f"/v1/friends/{c.id}", c)
    assert status == 422 and body["error"]["code"] == "cannot_friend_self", (status, body)
    status, body = call(cluster, "n3", "POST", f"/v1/friends/{uuid.uuid4()}", c)
    assert status == 404 and body["error"]["code"] == "not_found", (status, body)


def test_a_block_refuses_requests_and_messages_both_ways(cluster):
    a, b, c = STATE["a"], STATE["b"], STATE["c"]
    assert call(cluster, "n1", "POST", f"/v1/friends/{a.id}", c) == (200, {"state": "request_sent"})
    assert call(cluster, "n2", "POST", f"/v1/friends/{c.id}/block", a) == (200, {"state": "blocked"})
    assert entry(cluster, "n3", a, c)["state"] == "blocked"
    assert entry(cluster, "n1", c, a) is None, "the blocked user's request is gone, and the block is not shown"
    for user, other in [(c, a), (a, c)]:
        status, body = call(cluster, "n1", "POST", f"/v1/friends/{other.id}", user)
        assert status == 409 and body["error"]["code"] == "blocked", (status, body)
    assert call(cluster, "n3", "DELETE", f"/v1/friends/{c.id}/block", a) == (204, None)
    assert entry(cluster, "n3", a, c) is None
    # Unfriending ends messages.
    assert call(cluster, "n1", "DELETE", f"/v1/friends/{a.id}", b) == (204, None)
    assert entry(cluster, "n2", a, b) is None and entry(cluster, "n2", b, a) is None
    status, body = call(cluster, "n2", "POST", f"/v1/messages/{b.id}", a, {"text": "still there?"})
    assert status == 403 and body["error"]["code"] == "not_friends", (status, body)
    assert call(cluster, "n2", "POST", f"/v1/friends/{a.id}", b) == (200, {"state": "request_sent"})
    assert call(cluster, "n3", "POST", f"/v1/friends/{b.id}", a) == (200, {"state": "friend"})


def test_sends_are_braked_per_user(cluster):
    a, b = STATE["a"], STATE["b"]
    codes = []
    for index in range(6):  # chat_burst = 4 in this cluster's configuration
        status, body = call(cluster, "n2", "POST", f"/v1/messages/{b.id}", a, {"text": f"burst {index}"})
        codes.append(status)
        if status == 429:
            assert body["error"]["code"] == "rate_limited", body
    assert 429 in codes and codes[0] == 201, codes
    # Another node keeps its own allowance; b is not braked by a's sends.
    assert call(cluster, "n1", "POST", f"/v1/messages/{a.id}", b, {"text": "fine"})[0] == 201


def test_a_logged_out_session_is_refused_at_once(cluster):
    c = User(cluster, "n1", "dan")
    assert call(cluster, "n1", "GET", "/v1/friends", c)[0] == 200
    assert call(cluster, "n2", "POST", "/v1/auth/logout", c)[0] == 204
    status, body = call(cluster, "n3", "GET", "/v1/friends", c)
    assert status == 401, (status, body)


def test_everything_acknowledged_survives_a_killed_node(cluster):
    a, b = STATE["a"], STATE["b"]
    cluster.processes["n1"].send_signal(signal.SIGKILL)
    cluster.processes["n1"].wait(timeout=10)

    def settled():
        seen = entry(cluster, "n2", a, b)
        return seen is not None and seen["state"] == "friend"

    def answered():
        try:
            return settled()
        except AssertionError:
            return False

    assert wait_until(answered, timeout=30, interval=0.5)[0], "a's friend list did not come back without n1"
    status, body = call(cluster, "n3", "GET", f"/v1/messages/{a.id}?limit=100", b)
    assert status == 200, (status, body)
    texts = {m["text"] for m in body["messages"]}
    assert {"hello 0", "hello 4", "fine", "burst 0"} <= texts, texts


def main():
    cluster = Cluster(3, realtime={"chat_burst": 4, "chat_per_minute": 1})
    if not start_ready(cluster):
        return 1
    return run_on_cluster(cluster, [
        ("two users on different nodes become friends", test_two_users_on_different_nodes_become_friends),
        ("friends message each other and page the history", test_friends_message_each_other_and_page_the_history),
        ("a stranger is refused and sees nothing", test_a_stranger_is_refused_and_sees_nothing),
        ("a block refuses requests and messages both ways", test_a_block_refuses_requests_and_messages_both_ways),
        ("sends are braked per user", test_sends_are_braked_per_user),
        ("a logged-out session is refused at once", test_a_logged_out_session_is_refused_at_once),
        ("everything acknowledged survives a killed node", test_everything_acknowledged_survives_a_killed_node),
    ])


if __name__ == "__main__":
    sys.exit(main())
