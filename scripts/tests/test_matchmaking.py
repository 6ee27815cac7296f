#!/usr/bin/env python3
"""Matchmaking across three real `plume node` processes: the pinned ticket contract (create,
read, cancel, 409 already_queued and already_matched, a queue's figures, bad input), a match
whose players hear `match_found` over their sockets and are already members of its lobby, a
party queued as one ticket, a started lobby's open seats filled by backfill. Then 100 players
with sockets spread over the nodes queue for one game through every node while the queue's
primary is killed with SIGKILL: every one of them ends in exactly one match (its lobby holding
exactly its players), or still holds a live queued ticket. `websockets` is installed from PyPI
when missing."""

import os
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import (Cluster, Socket, User, call, ensure_websockets,  # noqa: E402
                       run_on_cluster, start_ready, shard_primary, wait_until)

T_KEYS = {"id", "queue", "status", "created_at", "match"}


def match_found(socket, timeout=10):
    frame = socket.next(lambda f: f.get("push") == "match_found", timeout)
    return frame and frame["data"]


def test_the_ticket_contract_a_match_a_party_and_a_backfill(cluster):
    queue = f"duel-{uuid.uuid4().hex[:8]}"
    a, b, c = User(cluster, "n1", "mma"), User(cluster, "n2", "mmb"), User(cluster, "n3", "mmc")
    sa, sb = Socket(cluster, "n1", a), Socket(cluster, "n2", b)
    ticket = {"queue": queue, "skill": 1500, "count_min": 2, "count_max": 2, "latency_ms": {"eu": 30, "us": 90},
              "tags": ["ranked"]}

    status, body = call(cluster, "n1", "POST", "/v1/matchmaking/tickets", a, ticket)
    assert status == 201, (status, body)
    t = body["ticket"]
    assert set(t) == T_KEYS and t["status"] == "queued" and t["match"] is None and t["queue"] == queue, t
    status, body = call(cluster, "n2", "POST", "/v1/matchmaking/tickets", a, ticket)
    assert (status, body["error"]["code"]) == (409, "already_queued"), (status, body)
    assert call(cluster, "n3", "GET", f"/v1/matchmaking/tickets/{t['id']}", a) == (200, {"ticket": t})
    assert call(cluster, "n3", "GET", f"/v1/matchmaking/tickets/{t['id']}", b)[0] == 404, "another player's ticket"
    status, body = call(cluster, "n2", "GET", f"/v1/matchmaking/queues/{queue}", b)
    assert status == 200 and body["queue"] == queue and body["waiting"] == 1, body
    assert set(body) == {"queue", "waiting", "median_wait_ms", "p90_wait_ms"}, body

    # Cancelled, then queued again; b's ticket completes the match.
    assert call(cluster, "n2", "DELETE", f"/v1/matchmaking/tickets/{t['id']}", a)[0] == 204
    assert call(cluster, "n1", "GET", f"/v1/matchmaking/tickets/{t['id']}", a)[1]["ticket"]["status"] == "cancelled"
    first = call(cluster, "n1", "POST", "/v1/matchmaking/tickets", a, ticket)[1]["ticket"]
    status, body = call(cluster, "n2", "POST", "/v1/matchmaking/tickets", b, {**ticket, "latency_ms": {"eu": 50}})
    assert status == 201 and body["ticket"]["status"] == "matched", (status, body)
    match = body["ticket"]["match"]
    assert sorted(match["players"]) == sorted([a.id, b.id]) and match["team"] == 0, match
    for socket, user, ticket_id in [(sa, a, first["id"]), (sb, b, body["ticket"]["id"])]:
        found = match_found(socket)
        assert found and found["match_id"] == match["match_id"] and found["ticket_id"] == ticket_id, found
        assert found["lobby_id"] == match["lobby_id"] and sorted(found["players"]) == sorted([a.id, b.id]), found
    lobby = call(cluster, "n3", "GET", f"/v1/lobbies/{match['lobby_id']}", a)[1]["lobby"]
    assert sorted(m["user_id"] for m in lobby["members"]) == sorted([a.id, b.id]), lobby
    assert lobby["data"]["region"] == "eu" and lobby["data"]["queue"] == queue, lobby
    status, body = call(cluster, "n3", "DELETE", f"/v1/matchmaking/tickets/{first['id']}", a)
    assert (status, body["error"]["code"]) == (409, "already_matched"), (status, body)
    status, body = call(cluster, "n1", "GET", f"/v1/matchmaking/queues/{queue}", a)
    assert body["waiting"] == 0 and body["median_wait_ms"] >= 0, body

    # A party queues as one ticket: its lobby's members are matched together.
    squad = f"squad-{uuid.uuid4().hex[:8]}"
    party = call(cluster, "n1", "POST", "/v1/lobbies", a, {"type": "private", "max_members": 4})[1]["lobby"]["id"]
    assert call(cluster, "n1", "POST", f"/v1/lobbies/{party}/invite", a, {"user_id": b.id})[0] == 200
    assert call(cluster, "n2", "POST", f"/v1/lobbies/{party}/join", b)[0] == 200
    group = {"queue": squad, "count_min": 3, "count_max": 3}
    status, body = call(cluster, "n2", "POST", "/v1/matchmaking/tickets", b, {**group, "party_lobby_id": party})
    assert (status, body["error"]["code"]) == (403, "not_owner"), (status, body)
    status, body = call(cluster, "n1", "POST", "/v1/matchmaking/tickets", a, {**group, "party_lobby_id": party})
    assert status == 201 and body["ticket"]["status"] == "queued", (status, body)
    status, body = call(cluster, "n3", "POST", "/v1/matchmaking/tickets", c, group)
    assert status == 201 and sorted(body["ticket"]["match"]["players"]) == sorted([a.id, b.id, c.id]), body

    # A started lobby's open seats are filled by backfill.
    fill = f"fill-{uuid.uuid4().hex[:8]}"
    game = call(cluster, "n1", "POST", "/v1/lobbies", a, {"type": "private", "max_members": 2})[1]["lobby"]["id"]
    status, body = call(cluster, "n1", "POST", "/v1/matchmaking/tickets", a,
                        {"queue": fill, "count_min": 1, "count_max": 1, "backfill_lobby_id": game})
    assert status == 201 and body["ticket"]["status"] == "queued", (status, body)
    backfill = body["ticket"]["id"]
    assert call(cluster, "n2", "GET", f"/v1/matchmaking/tickets/{backfill}", c)[0] == 404, "only its owner reads it"
    assert call(cluster, "n2", "DELETE", f"/v1/matchmaking/tickets/{backfill}", c)[0] == 404, "or cancels it"
    assert call(cluster, "n3", "GET", f"/v1/matchmaking/tickets/{backfill}", a)[0] == 200
    status, body = call(cluster, "n3", "POST", "/v1/matchmaking/tickets", c,
                        {"queue": fill, "count_min": 1, "count_max": 1})
    assert status == 201 and body["ticket"]["match"]["lobby_id"] == game, (status, body)
    lobby = call(cluster, "n2", "GET", f"/v1/lobbies/{game}", c)[1]["lobby"]
    assert [m["user_id"] for m in lobby["members"]] == [a.id, c.id], lobby

    # An Idempotency-Key makes a retry the same ticket, not a second one (nor already_queued).
    solo = {"queue": f"solo-{uuid.uuid4().hex[:8]}", "count_min": 2, "count_max": 2}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = call(cluster, "n1", "POST", "/v1/matchmaking/tickets", c, solo, headers=key)
    again = call(cluster, "n2", "POST", "/v1/matchmaking/tickets", c, solo, headers=key)
    assert first[0] == again[0] == 201 and first[1]["ticket"]["id"] == again[1]["ticket"]["id"], (first, again)
    assert call(cluster, "n3", "DELETE", f"/v1/matchmaking/tickets/{first[1]['ticket']['id']}", c)[0] == 204

    # Bad input gets a clear error.
    for body, code in [({"queue": "a b", "count_min": 2, "count_max": 2}, "invalid_queue"),
                       ({"queue": queue, "count_min": 3, "count_max": 2}, "invalid_count_min"),
                       ({"queue": queue, "count_min": 2, "count_max": 2, "teams": 0}, "invalid_teams"),
                       ({"queue": queue, "count_min": 2, "count_max": 2, "mode": "x"}, "unknown_field"),
                       ({"queue": queue}, "invalid_count_min")]:
        status, answer = call(cluster, "n1", "POST", "/v1/matchmaking/tickets", c, body)
        assert (status, answer["error"]["code"]) == (422, code), (body, status, answer)
    assert call(cluster, "n1", "GET", "/v1/matchmaking/tickets/nope", c)[0] == 404
    sa.close()
    sb.close()


def test_100_players_queue_while_the_queues_primary_is_killed(cluster):
    # A queue whose primary is n3; the players' sockets on n1 and n2, their requests through all three.
    queue = next(q for q in (f"arena-{uuid.uuid4().hex[:8]}" for _ in range(500))
                 if shard_primary(cluster, f"queue/{q}") == "n3")
    lock = threading.Lock()
    # Signed up a few at a time: password hashing is bounded per node.
    with ThreadPoolExecutor(max_workers=6) as pool:
        players = list(pool.map(lambda i: User(cluster, ["n1", "n2", "n3"][i % 3], "pl"), range(100)))
    sockets = {p.id: Socket(cluster, ["n1", "n2"][i % 2], p) for i, p in enumerate(players)}

    tickets = {}          # player id -> ticket id, where the answer said
    unknown = set()       # players whose enqueue had no answer (outcome unknown)
    ticket = {"queue": queue, "skill": 1000, "count_min": 4, "count_max": 4, "teams": 2}

    keys = {p.id: uuid.uuid4().hex for p in players}  # a retry is the same request: the same key

    def enqueue(player, node):
        status, body = call(cluster, node, "POST", "/v1/matchmaking/tickets", player, ticket,
                            headers={"Idempotency-Key": keys[player.id]})
        with lock:
            if status == 201:
                tickets[player.id] = body["ticket"]["id"]
                unknown.discard(player.id)
            elif status == 409 and body["error"]["code"] == "already_queued":
                unknown.discard(player.id)  # a ticket of theirs is live: the push or a read tells
            else:
                unknown.add(player.id)

    def queue_all(batch, nodes):
        threads = [threading.Thread(target=enqueue, args=(p, nodes[i % len(nodes)])) for i, p in enumerate(batch)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)

    queue_all(players[:50], ["n1", "n2", "n3"])
    assert len(tickets) == 50, f"{len(tickets)} of the first 50 enqueues answered"
    # The primary dies while the second half is being queued: once 10 of them were answered.
    def kill_midway():
        wait_until(lambda: len(tickets) >= 60, timeout=30, interval=0.005)
        cluster.processes["n3"].send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_midway)
    killer.start()
    queue_all(players[50:], ["n1", "n2", "n3"])
    killer.join(40)
    cluster.processes["n3"].wait()
    answered_before = len(tickets)
    no_answer = len(unknown)
    # Players without an answer retry through the survivors until the queue answers.
    deadline = time.monotonic() + 60
    while unknown and time.monotonic() < deadline:
        queue_all([p for p in players if p.id in unknown], ["n1", "n2"])
        time.sleep(0.2)
    assert not unknown, f"{len(unknown)} players never got an answer"

    # Every player hears of at most one match; collect until all are matched (or time is up).
    matches = {}
    deadline = time.monotonic() + 60
    while len(matches) < 100 and time.monotonic() < deadline:
        for player in players:
            socket = sockets[player.id]
            while True:
                frame = socket.next(lambda f: f.get("push") == "match_found", timeout=0.01)
                if not frame:
                    break
                matches.setdefault(player.id, set()).add(frame["data"]["match_id"])
                tickets.setdefault(player.id, frame["data"]["ticket_id"])
        time.sleep(0.2)
    twice = {p: m for p, m in matches.items() if len(m) > 1}
    assert not twice, f"players in two matches: {twice}"

    by_match = {}
    for player in players:
        if player.id in matches:
            by_match.setdefault(next(iter(matches[player.id])), []).append(player.id)
            continue
        # Not matched: must still hold a live queued ticket.
        ticket_id = tickets.get(player.id)
        status, body = call(cluster, "n1", "GET", f"/v1/matchmaking/tickets/{ticket_id}", player) if ticket_id \
            else call(cluster, "n1", "POST", "/v1/matchmaking/tickets", player, ticket)
        live = (status == 200 and body["ticket"]["status"] == "queued") or \
            (status == 409 and body["error"]["code"] == "already_queued")
        assert live, f"{player.id} is neither matched nor queued: {status} {body}"
    # Each match's lobby holds exactly its players; every ticket read agrees with the push.
    for match_id, members in by_match.items():
        reader = next(p for p in players if p.id == members[0])
        status, body = call(cluster, "n2", "GET", f"/v1/lobbies/{match_id}", reader)
        assert status == 200 and sorted(m["user_id"] for m in body["lobby"]["members"]) == sorted(members), \
            (match_id, members, status, body)
    for player in players:
        if player.id in matches:
            status, body = call(cluster, "n1", "GET", f"/v1/matchmaking/tickets/{tickets[player.id]}", player)
            assert status == 200 and body["ticket"]["match"]["match_id"] in matches[player.id], (status, body)
    print(f"  the queue's primary was killed after 60 tickets: {answered_before} enqueues answered by then, "
          f"{no_answer} without an answer (retried on the survivors)")
    print(f"  {sum(len(m) for m in by_match.values())} of 100 players matched in {len(by_match)} matches, "
          f"{100 - len(matches)} still queued")
    for socket in sockets.values():
        socket.close()


def main():
    ensure_websockets()
    cluster = Cluster(3, name="plume-matchmaking",
                      membership={"probe_interval_ms": 300, "probe_timeout_ms": 120, "suspicion_min_ms": 800},
                      realtime={"heartbeat_ms": 2000, "reconnect_grace_ms": 4000},
                      gateway={"auth_burst": 1000, "auth_per_minute": 100000},
                      sections={"matchmaking": {"interval_ms": 200}})
    if not start_ready(cluster):
        return 1
    return run_on_cluster(cluster, [
        ("the ticket contract, a match, a party and a backfill",
         test_the_ticket_contract_a_match_a_party_and_a_backfill),
        ("100 players queue while the queue's primary is killed",
         test_100_players_queue_while_the_queues_primary_is_killed),
    ])


if __name__ == "__main__":
    sys.exit(main())
