"""Simulated users of python/examples/ugreenchat.py (standard library only).

Each user keeps at most one request in flight (as the chat's page does), so
`--async N` cores are enough for N users: it posts its messages one at a
time, each after it has seen its previous one come back through a poll,
and polls (GET /poll?since=LAST) until it has received every message of
every user. Every poll's answer must continue exactly where the previous
one ended (ids LAST+1, LAST+2, ...): nothing lost, nothing repeated, one
order for everybody.

run_threads()  one thread and one http.client keep-alive connection per user
run_asyncio()  one thread, one asyncio task and connection per user (for 1000)
"""
import asyncio
import http.client
import json
import threading
import time
import urllib.parse

POLL_TIMEOUT = 20


class User:
    """The protocol of one user, independent of the transport."""

    def __init__(self, index, per_user, total):
        self.name = "user%04d" % index
        self.per_user = per_user
        self.total = total
        self.sent = 0
        self.my_ids = []
        self.last = 0
        self.received = []
        self.polls = 0
        self.started = self.finished = None

    def next_request(self):
        """(method, path, body) of the next request, or None when done."""
        if len(self.received) >= self.total:
            return None
        if self.sent < self.per_user and (not self.my_ids or self.my_ids[-1] <= self.last):
            body = urllib.parse.urlencode({"user": self.name, "text": "%s says %d" % (self.name, self.sent)})
            return "POST", "/post", body.encode()
        return "GET", "/poll?since=%d&timeout=%d" % (self.last, POLL_TIMEOUT), None

    def handle(self, method, status, body):
        if status != 200:
            raise AssertionError("%s: %s answered %d: %r" % (self.name, method, status, body[:300]))
        data = json.loads(body)
        if method == "POST":
            self.my_ids.append(data["id"])
            self.sent += 1
            return
        self.polls += 1
        assert not data.get("truncated") and not data.get("reset"), (self.name, data)
        for m in data["messages"]:
            if m["id"] != self.last + 1:
                raise AssertionError("%s: after message %d got message %d (lost or out of order)"
                                     % (self.name, self.last, m["id"]))
            self.last = m["id"]
            self.received.append((m["id"], m["user"], m["text"]))
        assert data["last"] == self.last, (self.name, data["last"], self.last)


def check(users, per_user):
    """Everybody got the same complete history, each sender's messages in its order."""
    total = len(users) * per_user
    ref = users[0].received
    assert len(ref) == total, "%s received %d of %d messages" % (users[0].name, len(ref), total)
    assert [m[0] for m in ref] == list(range(1, total + 1))
    for u in users:
        assert u.received == ref, "%s saw a different history" % u.name
        assert u.sent == per_user
    by_sender = {}
    for _, user, text in ref:
        by_sender.setdefault(user, []).append(text)
    assert sorted(by_sender) == sorted(u.name for u in users)
    for user, texts in by_sender.items():
        assert texts == ["%s says %d" % (user, i) for i in range(per_user)], (user, texts)
    for u in users:
        ids = [m[0] for m in ref if m[1] == u.name]
        assert ids == u.my_ids, (u.name, ids, u.my_ids)


def run_threads(host, port, nusers, per_user, timeout):
    """Drive nusers users, one thread each; returns the User list (raises on a failure)."""
    users = [User(i, per_user, nusers * per_user) for i in range(nusers)]
    errors = []
    deadline = time.monotonic() + timeout

    def run(u):
        u.started = time.monotonic()
        conn = http.client.HTTPConnection(host, port, timeout=POLL_TIMEOUT + 10)
        try:
            while time.monotonic() < deadline:
                req = u.next_request()
                if req is None:
                    u.finished = time.monotonic()
                    return
                method, path, body = req
                headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                u.handle(method, r.status, r.read())
            errors.append("%s: not done within %g s (%d of %d messages)"
                          % (u.name, timeout, len(u.received), u.total))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append("%s: %r" % (u.name, e))
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(u,), daemon=True) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()) + 5)
    if any(t.is_alive() for t in threads):
        errors.append("%d user threads still running after %g s"
                      % (sum(t.is_alive() for t in threads), timeout))
    if errors:
        raise AssertionError("%d users failed; first ones:\n%s" % (len(errors), "\n".join(errors[:10])))
    return users


async def _read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.read()
    return status, headers, body


async def _drive(host, port, users, timeout):
    errors = []
    start_gate = asyncio.Semaphore(200)   # connect in waves, not 1000 SYNs at once

    async def run(u):
        async with start_gate:
            reader, writer = await asyncio.open_connection(host, port)
        u.started = time.monotonic()
        try:
            while True:
                req = u.next_request()
                if req is None:
                    u.finished = time.monotonic()
                    return
                method, path, body = req
                msg = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, host)
                if body:
                    msg += ("Content-Type: application/x-www-form-urlencoded\r\n"
                            "Content-Length: %d\r\n" % len(body))
                writer.write(msg.encode() + b"\r\n" + (body or b""))
                status, headers, rbody = await _read_response(reader)
                u.handle(method, status, rbody)
                if headers.get("connection", "").lower() == "close":
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append("%s: %r" % (u.name, e))
        finally:
            writer.close()

    tasks = [asyncio.create_task(run(u)) for u in users]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for t in pending:
        t.cancel()
    if pending:
        late = [u for u in users if u.finished is None]
        errors.append("%d users not done within %g s, e.g. %s with %d of %d messages"
                      % (len(pending), timeout, late[0].name, len(late[0].received), late[0].total))
    return errors


def run_asyncio(host, port, nusers, per_user, timeout):
    """Drive nusers users from one thread with asyncio; returns the User list."""
    users = [User(i, per_user, nusers * per_user) for i in range(nusers)]
    errors = asyncio.run(_drive(host, port, users, timeout))
    if errors:
        raise AssertionError("%d users failed; first ones:\n%s" % (len(errors), "\n".join(errors[:10])))
    return users
