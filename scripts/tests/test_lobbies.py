#!/usr/bin/env python3
"""Lobbies across three real `plume node` processes, members on WebSockets spread over the
nodes: the pinned REST contract (create, read, join and its refusals, change, member data and
ready, kick, ban, invite with its notification and push, hand-over, start on a game server of
`[lobbies] game_servers`, search across the cluster with filters, `near` and free seats) and the
push `lobby` every member gets for each change with a version that grows by one; `lobby.chat`
over the socket. The owner's socket closes: ownership moves to the longest-present member and
every member is told. An empty lobby is deleted after `empty_ttl_ms`. A lobby's primary is
killed with SIGKILL: its members keep the lobby, its data and its owner, read it from any node,
receive it again from the new primary, and the next change reaches them all with the next
version. `websockets` is installed from PyPI when missing."""

import os
import signal
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import (Cluster, Socket, User, befriend, call, ensure_websockets,  # noqa: E402
                       run_on_cluster, start_ready, shard_primary, wait_until)

GAME_SERVERS = ["10.1.0.5:7777", "10.1.0.6:7777"]
EMPTY_TTL_MS = 1000
L_KEYS = {"id", "type", "owner_id", "max_members", "joinable", "data", "members", "version", "created_at"}


def lobby_push(socket, lobby_id, change, timeout=10):
    frame = socket.next(lambda f: f.get("push") == "lobby" and f["data"]["lobby"]["id"] == lobby_id
                        and f["data"]["change"] == change, timeout)
    assert frame is not None, f"no lobby push {change} for {lobby_id}: {socket.frames[-5:]}"
    return frame["data"]["lobby"]


def members(lobby):
    return [m["user_id"] for m in lobby["members"]]


def test_the_lobby_contract_and_its_pushes(cluster):
    a, b, c, d = (User(cluster, n, p) for n, p in [("n1", "ann"), ("n2", "bob"), ("n3", "cyd"), ("n1", "dee")])
    sa, sb, sc, sd = Socket(cluster, "n1", a), Socket(cluster, "n2", b), Socket(cluster, "n3", c), \
        Socket(cluster, "n2", d)
    tag = uuid.uuid4().hex[:10]

    status, body = call(cluster, "n1", "POST", "/v1/lobbies", a,
                        {"type": "public", "max_members": 3, "data": {"mode": "ctf", "level": "10", "tag": tag}})
    assert status == 201, (status, body)
    lobby = body["lobby"]
    assert set(lobby) == L_KEYS and set(lobby["members"][0]) == {"user_id", "data", "ready"}, lobby
    assert lobby["type"] == "public" and lobby["owner_id"] == a.id and members(lobby) == [a.id], lobby
    assert lobby["joinable"] is True and lobby["max_members"] == 3, lobby
    lid, version = lobby["id"], lobby["version"]

    # Anyone reads a public lobby; b joins on n2 and a's socket on n1 is told.
    assert call(cluster, "n3", "GET", f"/v1/lobbies/{lid}", d)[0] == 200
    status, body = call(cluster, "n2", "POST", f"/v1/lobbies/{lid}/join", b)
    assert status == 200 and members(body["lobby"]) == [a.id, b.id], (status, body)
    pushed = lobby_push(sa, lid, "member_joined")
    assert pushed["version"] == version + 1 and members(pushed) == [a.id, b.id], pushed
    assert lobby_push(sb, lid, "member_joined")["version"] == version + 1

    # Only the owner changes the lobby; data merges key by key and "" deletes a key.
    status, body = call(cluster, "n2", "PATCH", f"/v1/lobbies/{lid}", b, {"data": {"level": "12"}})
    assert (status, body["error"]["code"]) == (403, "not_owner"), (status, body)
    status, body = call(cluster, "n3", "PATCH", f"/v1/lobbies/{lid}", a, {"data": {"level": "12", "mode": ""}})
    assert status == 200 and body["lobby"]["data"] == {"level": "12", "tag": tag}, (status, body)
    assert lobby_push(sb, lid, "data")["version"] == version + 2

    status, body = call(cluster, "n1", "PUT", f"/v1/lobbies/{lid}/members/me", b,
                        {"data": {"team": "red"}, "ready": True})
    assert status == 200 and body["lobby"]["members"][1] == {"user_id": b.id, "data": {"team": "red"},
                                                             "ready": True}, body
    assert lobby_push(sa, lid, "member_data")["version"] == version + 3

    # Full, then found by search once a seat is added.
    assert call(cluster, "n3", "POST", f"/v1/lobbies/{lid}/join", c)[0] == 200
    status, body = call(cluster, "n1", "POST", f"/v1/lobbies/{lid}/join", d)
    assert (status, body["error"]["code"]) == (409, "lobby_full"), (status, body)
    search = {"filters": [{"key": "tag", "op": "eq", "value": tag}]}
    assert call(cluster, "n2", "POST", "/v1/lobbies/search", d, search) == (200, {"lobbies": [], "total": 0})
    assert call(cluster, "n1", "PATCH", f"/v1/lobbies/{lid}", a, {"max_members": 4})[0] == 200
    status, body = call(cluster, "n2", "POST", "/v1/lobbies/search", d, search)
    assert status == 200 and body["total"] == 1 and body["lobbies"][0]["id"] == lid, (status, body)

    # Numbers compare as numbers, `near` sorts by distance, slots_available counts free seats;
    # private, friends-only and non-joinable lobbies are never listed.
    ids = {}
    for level, kind, joinable in [("5", "public", True), ("20", "invisible", True), ("11", "private", True),
                                  ("11", "friends_only", True), ("11", "public", False)]:
        status, body = call(cluster, "n2", "POST", "/v1/lobbies", d,
                            {"type": kind, "max_members": 8, "joinable": joinable,
                             "data": {"level": level, "tag": tag}})
        assert status == 201, (status, body)
        ids[(level, kind, joinable)] = body["lobby"]["id"]
    status, body = call(cluster, "n3", "POST", "/v1/lobbies/search", c,
                        {**search, "near": {"key": "level", "value": 11}})
    assert status == 200 and [x["id"] for x in body["lobbies"]] == [
        lid, ids[("5", "public", True)], ids[("20", "invisible", True)]], body
    status, body = call(cluster, "n3", "POST", "/v1/lobbies/search", c,
                        {"filters": search["filters"] + [{"key": "level", "op": "ge", "value": 10}]})
    assert sorted(x["id"] for x in body["lobbies"]) == sorted([lid, ids[("20", "invisible", True)]]), body
    status, body = call(cluster, "n1", "POST", "/v1/lobbies/search", c, {**search, "slots_available": 2})
    assert [x["id"] for x in body["lobbies"]] != [] and lid not in [x["id"] for x in body["lobbies"]], body
    status, body = call(cluster, "n1", "POST", "/v1/lobbies/search", c, {**search, "limit": 1})
    assert status == 200 and len(body["lobbies"]) == 1 and body["total"] == 3, body

    # Kick and ban: the member removed is told too; a banned user cannot come back.
    status, body = call(cluster, "n1", "POST", f"/v1/lobbies/{lid}/kick", a, {"user_id": c.id})
    assert status == 200 and c.id not in members(body["lobby"]), body
    assert lobby_push(sc, lid, "kicked")
    assert call(cluster, "n3", "POST", f"/v1/lobbies/{lid}/join", c)[0] == 200
    assert call(cluster, "n1", "POST", f"/v1/lobbies/{lid}/ban", a, {"user_id": c.id})[0] == 200
    assert lobby_push(sc, lid, "banned")
    status, body = call(cluster, "n3", "POST", f"/v1/lobbies/{lid}/join", c)
    assert (status, body["error"]["code"]) == (403, "banned"), (status, body)

    # A private lobby: invisible to others, by invite only; the invite is a notification and a push.
    private = ids[("11", "private", True)]
    assert call(cluster, "n1", "GET", f"/v1/lobbies/{private}", a)[0] == 404
    status, body = call(cluster, "n1", "POST", f"/v1/lobbies/{private}/join", a)
    assert (status, body["error"]["code"]) == (403, "not_invited"), (status, body)
    assert call(cluster, "n3", "POST", f"/v1/lobbies/{private}/invite", a, {"user_id": b.id})[0] == 403
    assert call(cluster, "n3", "POST", f"/v1/lobbies/{private}/invite", d, {"user_id": a.id})[0] == 200
    invite = sa.next(lambda f: f.get("push") == "lobby_invite" and f["data"]["lobby_id"] == private)
    assert invite and invite["data"]["from"] == d.id, invite
    notes = call(cluster, "n2", "GET", "/v1/notifications", a)[1]["notifications"]
    assert any(n["kind"] == "lobby_invite" and n["data"]["lobby_id"] == private for n in notes), notes
    assert call(cluster, "n1", "POST", f"/v1/lobbies/{private}/join", a)[0] == 200

    # Friends-only: the owner's friends join, strangers need an invite. Not joinable: no one.
    friends_only = ids[("11", "friends_only", True)]
    befriend(cluster, d, b)
    assert call(cluster, "n2", "POST", f"/v1/lobbies/{friends_only}/join", b)[0] == 200
    status, body = call(cluster, "n3", "POST", f"/v1/lobbies/{friends_only}/join", c)
    assert (status, body["error"]["code"]) == (403, "not_invited"), (status, body)
    status, body = call(cluster, "n3", "POST", f"/v1/lobbies/{ids[('11', 'public', False)]}/join", c)
    assert (status, body["error"]["code"]) == (403, "not_joinable"), (status, body)

    # Hand-over, the ready check, the start on a game server of the pool.
    assert call(cluster, "n2", "POST", f"/v1/lobbies/{lid}/owner", a, {"user_id": b.id})[1]["lobby"]["owner_id"] \
        == b.id
    assert lobby_push(sa, lid, "owner")["owner_id"] == b.id
    status, body = call(cluster, "n2", "POST", f"/v1/lobbies/{lid}/start", b)
    assert (status, body["error"]["code"]) == (409, "not_ready"), (status, body)
    assert call(cluster, "n1", "PUT", f"/v1/lobbies/{lid}/members/me", a, {"ready": True})[0] == 200
    status, body = call(cluster, "n3", "POST", f"/v1/lobbies/{lid}/start", b, {})
    assert status == 200 and body["game_server"]["address"] in GAME_SERVERS, (status, body)
    assert len(body["game_server"]["token"].split(".")) == 2, body
    assert lobby_push(sa, lid, "started")

    # Lobby chat over the socket reaches every member; others are refused.
    reply = sa.ask("lobby.chat", {"lobby_id": lid, "text": "gl hf"})
    assert reply["ok"], reply
    chat = sb.next(lambda f: f.get("push") == "lobby_chat" and f["data"]["lobby_id"] == lid)
    assert chat and chat["data"]["from"] == a.id and chat["data"]["text"] == "gl hf", chat
    reply = sd.ask("lobby.chat", {"lobby_id": lid, "text": "hi"})
    assert not reply["ok"] and reply["error"]["code"] in ("not_member", "not_found"), reply
    reply = sa.ask("lobby.chat", {"lobby_id": lid, "text": "x" * 4097})
    assert not reply["ok"] and reply["error"]["code"] == "invalid_text", reply

    # Leaving: the owner leaves, the longest-present member owns it; then 204 and the push.
    status, _ = call(cluster, "n2", "POST", f"/v1/lobbies/{lid}/leave", b)
    assert status == 204
    assert lobby_push(sa, lid, "member_left")["owner_id"] == a.id

    # Bad input gets a clear error.
    for body, code in [({"type": "secret", "max_members": 4}, "invalid_type"),
                       ({"type": "public", "max_members": 1}, "invalid_max_members"),
                       ({"type": "public", "max_members": 4, "colour": "red"}, "unknown_field"),
                       ({"type": "public", "max_members": 4, "data": {"k": "v" * 9000}}, "invalid_data")]:
        status, answer = call(cluster, "n1", "POST", "/v1/lobbies", a, body)
        assert (status, answer["error"]["code"]) == (422, code), (body, status, answer)
    status, answer = call(cluster, "n1", "POST", "/v1/lobbies/search", a, {"limit": 51})
    assert (status, answer["error"]["code"]) == (422, "invalid_limit"), (status, answer)
    assert call(cluster, "n1", "GET", "/v1/lobbies/nosuchlobby", a)[0] == 404
    for s in (sa, sb, sc, sd):
        s.close()


def test_the_owner_disconnects_and_ownership_moves(cluster):
    a, b, c = User(cluster, "n1", "own"), User(cluster, "n2", "bee"), User(cluster, "n3", "cee")
    sa = Socket(cluster, "n1", a)
    lid = call(cluster, "n1", "POST", "/v1/lobbies", a, {"type": "public", "max_members": 4})[1]["lobby"]["id"]
    sb, sc = Socket(cluster, "n2", b), Socket(cluster, "n3", c)
    assert call(cluster, "n2", "POST", f"/v1/lobbies/{lid}/join", b)[0] == 200
    assert call(cluster, "n3", "POST", f"/v1/lobbies/{lid}/join", c)[0] == 200
    version = call(cluster, "n1", "GET", f"/v1/lobbies/{lid}", a)[1]["lobby"]["version"]
    started = time.monotonic()
    sa.close()
    for s in (sb, sc):
        moved = lobby_push(s, lid, "owner")
        assert moved["owner_id"] == b.id and moved["version"] == version + 1, moved
    print(f"  the owner's socket closed; both members were told b owns it within "
          f"{1000 * (time.monotonic() - started):.0f} ms")
    assert members(call(cluster, "n3", "GET", f"/v1/lobbies/{lid}", c)[1]["lobby"]) == [a.id, b.id, c.id]
    sb.close()
    sc.close()


def test_an_empty_lobby_is_deleted_after_its_ttl(cluster):
    a = User(cluster, "n2", "ttl")
    lid = call(cluster, "n2", "POST", "/v1/lobbies", a, {"type": "public", "max_members": 2})[1]["lobby"]["id"]
    assert call(cluster, "n1", "POST", f"/v1/lobbies/{lid}/leave", a)[0] == 204
    left = time.monotonic()
    status, body = call(cluster, "n3", "GET", f"/v1/lobbies/{lid}", a)
    assert status == 200 and body["lobby"]["members"] == [], "an empty public lobby is there until its TTL"
    gone, _ = wait_until(lambda: call(cluster, "n3", "GET", f"/v1/lobbies/{lid}", a)[0] == 404, timeout=15,
                         interval=0.2)
    assert gone, "the empty lobby was never deleted"
    print(f"  deleted {time.monotonic() - left:.1f} s after it became empty (empty_ttl_ms {EMPTY_TTL_MS})")


def test_a_lobbys_primary_is_killed_and_its_members_keep_it(cluster):
    a, b = User(cluster, "n1", "kay"), User(cluster, "n2", "lee")
    # A lobby whose primary is n3, with members whose sockets live on n1 and n2.
    for _ in range(200):
        status, body = call(cluster, "n1", "POST", "/v1/lobbies", a,
                            {"type": "public", "max_members": 6, "data": {"map": "harbor"}})
        assert status == 201, (status, body)
        if shard_primary(cluster, "lobby/" + body["lobby"]["id"]) == "n3":
            break
        call(cluster, "n1", "POST", f"/v1/lobbies/{body['lobby']['id']}/leave", a)
    lid = body["lobby"]["id"]
    assert shard_primary(cluster, "lobby/" + lid) == "n3"
    sa, sb = Socket(cluster, "n1", a), Socket(cluster, "n2", b)
    assert call(cluster, "n2", "POST", f"/v1/lobbies/{lid}/join", b)[0] == 200
    before = call(cluster, "n2", "GET", f"/v1/lobbies/{lid}", b)[1]["lobby"]

    cluster.processes["n3"].send_signal(signal.SIGKILL)
    cluster.processes["n3"].wait()
    killed = time.monotonic()

    def read_back():
        status, body = call(cluster, "n1", "GET", f"/v1/lobbies/{lid}", a)
        return body["lobby"] if status == 200 else None

    after, _ = wait_until(read_back, timeout=20)
    assert after, "the lobby is served again after its primary died"
    print(f"  readable again {time.monotonic() - killed:.1f} s after the kill")
    for key in ("data", "owner_id", "members", "version", "type"):
        assert after[key] == before[key], (key, before, after)
    assert call(cluster, "n2", "GET", f"/v1/lobbies/{lid}", b)[1]["lobby"] == after

    # The new primary sends both members the lobby again, as it is.
    for s in (sa, sb):
        again = lobby_push(s, lid, "data", timeout=20)
        assert {k: again[k] for k in ("version", "owner_id", "data")} == \
            {k: before[k] for k in ("version", "owner_id", "data")}, (again, before)
    # The next change reaches both members with the next version, and search still finds it.
    status, body = call(cluster, "n2", "PUT", f"/v1/lobbies/{lid}/members/me", b, {"data": {"team": "blue"}})
    assert status == 200, (status, body)
    for s in (sa, sb):
        assert lobby_push(s, lid, "member_data")["version"] == before["version"] + 1
    status, body = call(cluster, "n1", "POST", "/v1/lobbies/search", a,
                        {"filters": [{"key": "map", "op": "eq", "value": "harbor"}], "limit": 50})
    assert status == 200 and lid in [x["id"] for x in body["lobbies"]], body
    sa.close()
    sb.close()


def main():
    ensure_websockets()
    cluster = Cluster(3, name="plume-lobbies",
                      membership={"probe_interval_ms": 300, "probe_timeout_ms": 120, "suspicion_min_ms": 800},
                      realtime={"heartbeat_ms": 2000, "reconnect_grace_ms": 4000},
                      sections={"lobbies": {"game_servers": "[" + ", ".join(f'"{s}"' for s in GAME_SERVERS) + "]",
                                            "seat_hold_ms": 5000, "empty_ttl_ms": EMPTY_TTL_MS}})
    if not start_ready(cluster):
        return 1
    return run_on_cluster(cluster, [
        ("the lobby contract and its pushes", test_the_lobby_contract_and_its_pushes),
        ("the owner disconnects and ownership moves", test_the_owner_disconnects_and_ownership_moves),
        ("an empty lobby is deleted after its TTL", test_an_empty_lobby_is_deleted_after_its_ttl),
        ("a lobby's primary is killed and its members keep it", test_a_lobbys_primary_is_killed_and_its_members_keep_it),
    ])


if __name__ == "__main__":
    sys.exit(main())
