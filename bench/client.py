"""The load client: gevent greenlets on raw sockets, minimal HTTP/1.1 and SSE parsing.

Run by the orchestrator (``bench.lifecycle.Run``) as a separate process, one or several at once::

    python -m bench.client SPEC.json OUT.json

The spec names a mode; each mode writes one JSON document to OUT:

- ``register``: register users over HTTP; returns their access tokens.
- ``sessions``: create sessions (``POST /sessions``) on keep-alive connections.
- ``streams``: open streams at scheduled times (offsets from a shared ``CLOCK_MONOTONIC``
  start ``t0``, so several client processes interleave one schedule), and optionally run
  logins at a fixed rate meanwhile. Per stream it records the start, connect, time to first
  token, the arrival time of every token, the end, the outcome (``done``, ``error:CODE``,
  ``http_NNN``, ``eof``, ``timeout``, ``conn:…``) and whether the text matched exactly.
- ``crud``: a fixed number of keep-alive connections each loop one request for a fixed time.

The timed modes run with the client's cyclic GC off (its pauses would skew timestamps).
Every mode also reports the process's own CPU (``resource.getrusage``) and the hub's loop lag
(how late a 10 ms timer fires), so a client-bound run can be recognised as such. Timestamps
are ``time.monotonic()``, which is system-wide on Linux, so the orchestrator can line them up
with its own server samples.
"""

from __future__ import annotations

import gc
import json
import random
import resource
import sys
import time
from typing import Any

import gevent
import gevent.pool
from gevent import socket

from bench.records import CrudRecord, LoginRecord, ResumeRecord, StreamRecord

now = time.monotonic
_loads = json.loads

TOKEN_PREFIX = b"event: token\ndata: "


def raise_nofile() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def cpu_seconds() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def open_socket(addr: tuple[str, int]) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.connect(addr)
    except BaseException:
        sock.close()
        raise
    return sock


def build_request(
    method: str, path: str, host: str, headers: dict[str, str], body: Any = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    payload = b""
    if body is not None:
        payload = json.dumps(body).encode()
        lines.append("Content-Type: application/json")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Closed(Exception):
    """The peer closed the connection before a whole response arrived."""


class Conn:
    """One keep-alive HTTP/1.1 connection for plain (non-streaming) requests."""

    def __init__(self, addr: tuple[str, int]):
        self.addr = addr
        self.sock: socket.socket | None = None
        self.buf = b""
        self.reused = False
        self.connects = 0

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def request(self, raw: bytes, retry_stale: bool = True) -> tuple[int, bytes]:
        """Send one request; (status, body). A reused connection found closed is retried once."""
        if self.sock is None:
            self.sock = open_socket(self.addr)
            self.connects += 1
            self.reused = False
        try:
            self.sock.sendall(raw)
            status, body, keep = self._read_response()
        except (Closed, OSError):
            was_reused = self.reused
            self.close()
            if was_reused and retry_stale:
                return self.request(raw, retry_stale=False)
            raise
        if keep:
            self.reused = True
        else:
            self.close()
        return status, body

    def _recv(self) -> bytes:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            raise Closed()
        return data

    def _read_response(self) -> tuple[int, bytes, bool]:
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            buf += self._recv()
        head = buf[:end].decode("latin-1")
        buf = buf[end + 4 :]
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        keep = headers.get("connection") != "close"
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(buf) < length:
                buf += self._recv()
            body, self.buf = buf[:length], buf[length:]
        elif headers.get("transfer-encoding") == "chunked":
            parts = []
            while True:
                while (eol := buf.find(b"\r\n")) < 0:
                    buf += self._recv()
                size = int(buf[:eol].split(b";", 1)[0], 16)
                while len(buf) < eol + 4 + size:
                    buf += self._recv()
                parts.append(buf[eol + 2 : eol + 2 + size])
                buf = buf[eol + 4 + size :]
                if size == 0:
                    break
            body, self.buf = b"".join(parts), buf
        elif status in (204, 304) or 100 <= status < 200:
            body, self.buf = b"", buf
        else:  # body until close
            while True:
                try:
                    buf += self._recv()
                except Closed:
                    break
            body, self.buf, keep = buf, b"", False
        return status, body, keep


class LoopLag:
    """Samples how late a 10 ms timer fires on this process's hub."""

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.lags: list[float] = []
        self._greenlet: gevent.Greenlet | None = None

    def _run(self) -> None:
        interval = self.interval
        while True:
            before = now()
            gevent.sleep(interval)
            self.lags.append((now() - before - interval) * 1000.0)

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> list[float]:
        if self._greenlet is not None:
            self._greenlet.kill()
        return self.lags


# --------------------------------------------------------------------------- streams


def read_head(sock: socket.socket) -> tuple[int, bytes, bytes]:
    """Read a response's status line and headers: (status, head, what followed them)."""
    buf = b""
    while (end := buf.find(b"\r\n\r\n")) < 0:
        data = sock.recv(65536)
        if not data:
            raise Closed()
        buf += data
    head = buf[:end]
    return int(head[9:12]), head, buf[end + 4 :]


def dechunk(buf: bytes) -> tuple[bool, bytes, bytes]:
    """The whole chunks at the start of `buf`: (last chunk seen, their payload, the rest)."""
    payload = b""
    while (eol := buf.find(b"\r\n")) >= 0:
        size = int(buf[:eol].split(b";", 1)[0], 16)
        if size == 0:
            return True, payload, buf
        stop = eol + 2 + size
        if len(buf) < stop + 2:
            break
        payload += buf[eol + 2 : stop]
        buf = buf[stop + 2 :]
    return False, payload, buf


class Reply:
    """The SSE events of one stream as they arrive: tokens, their ids, the end."""

    def __init__(self, rec: StreamRecord, drop_after: int = 0):
        self.rec = rec
        self.pieces: list[str] = []
        self.drop_after = drop_after  # > 0: stop reading after this many tokens
        self.ended = False
        self.seen: set[str] = set()
        self.after = 0  # resumed: events numbered up to this came before

    def take(self, body: bytes, t: float) -> bytes:
        """Handle every whole event in `body` (arrived at t); the incomplete rest."""
        while (sep := body.find(b"\n\n")) >= 0:
            event = body[:sep]
            body = body[sep + 2 :]
            if event.startswith(TOKEN_PREFIX):
                self.token(_loads(event[19:])["content"], t, None)
                continue
            kind, data, event_id = _parse_event(event)
            if event_id is not None and not self.fresh(event_id):
                continue
            self.on_event(kind, data, event_id, t)
        return body

    def fresh(self, event_id: str) -> bool:
        """False for an event at or before Last-Event-ID, or one seen already."""
        _, _, n = event_id.rpartition(":")
        if event_id in self.seen or (self.after and n.isdigit() and int(n) <= self.after):
            if self.rec.resumed is not None:
                self.rec.resumed.duplicates += 1
            return False
        self.seen.add(event_id)
        return True

    def token(self, content: str, t: float, event_id: str | None) -> None:
        self.pieces.append(content)
        self.rec.token_times.append(t)
        if event_id is not None:
            self.rec.event_ids.append(event_id)
        resumed = self.rec.resumed
        if resumed is not None:
            resumed.tokens += 1
            resumed.first_token = resumed.first_token or t

    def on_event(self, kind: str, data: bytes, event_id: str | None, t: float) -> None:
        if kind == "token":
            self.token(_loads(data)["content"], t, event_id)
        elif kind == "done":
            self.rec.outcome = "done"
            self.rec.end = t
            self.ended = True
        elif kind == "error":
            try:
                code = _loads(data).get("error", "?")
            except ValueError:
                code = "?"
            self.rec.outcome = f"error:{code}"
            self.rec.end = t
            self.ended = True

    @property
    def dropping(self) -> bool:
        return 0 < self.drop_after <= len(self.pieces) and not self.ended

    def resuming(self, last_event_id: str | None) -> None:
        self.drop_after = 0
        n = (last_event_id or "").rpartition(":")[2]
        self.after = int(n) if n.isdigit() else 0


class Resume:
    """How a dropped stream is resumed: ``GET /sessions/{id}/reply`` with Last-Event-ID."""

    def __init__(self, host: str, session_id: str, auth: str, drop_after: int):
        self.host = host
        self.path = f"/sessions/{session_id}/reply"
        self.auth = auth
        self.drop_after = drop_after

    def request(self, last_event_id: str | None) -> bytes:
        headers = {"Accept": "text/event-stream", "Authorization": self.auth}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        return build_request("GET", self.path, self.host, headers)


def resume_stream(addr: tuple[str, int], resume: Resume, reply: Reply) -> None:
    """Right after dropping the stream: fetch the rest of the reply from where it stopped."""
    rec = reply.rec
    last = rec.event_ids[-1] if rec.event_ids else None
    res = rec.resumed = ResumeRecord(start=now(), last_event_id=last)
    sock = open_socket(addr)
    try:
        sock.sendall(resume.request(last))
        res.status, head, buf = read_head(sock)
        res.headers = now()
        if res.status != 200:
            rec.outcome = f"resume_http_{res.status}"
            rec.text = (head + b"\r\n\r\n" + buf)[-300:].decode("latin-1")
            return
        reply.resuming(last)
        read_events(sock, head, buf, res.headers, reply)
    finally:
        sock.close()


def read_events(sock: socket.socket, head: bytes, buf: bytes, t: float, reply: Reply) -> None:
    """Read the response body to its end (or until `reply` wants to drop the stream)."""
    chunked = b"chunked" in head.lower()
    body = b""
    while True:
        if chunked:
            finished, payload, buf = dechunk(buf)
        else:
            finished, payload, buf = False, buf, b""
        body = reply.take(body + payload, t)
        if finished or reply.dropping:
            return
        data = sock.recv(65536)
        t = now()
        if not data:
            return
        buf += data


def run_stream(
    addr: tuple[str, int],
    raw: bytes,
    expected: str,
    timeout_s: float,
    rec: StreamRecord,
    resume: Resume | None = None,
) -> None:
    """Open one stream and fill `rec` in place (times absolute monotonic seconds).

    With `resume`: drop the connection after `resume.drop_after` tokens, then resume it."""
    rec.start = now()
    reply = Reply(rec, resume.drop_after if resume else 0)
    sock = None
    timer = gevent.Timeout(timeout_s)
    timer.start()
    try:
        sock = open_socket(addr)
        rec.connected = now()
        sock.sendall(raw)
        status, head, buf = read_head(sock)
        t = rec.headers = now()
        if status != 200:
            rec.outcome = f"http_{status}"
            rec.text = (head + b"\r\n\r\n" + buf)[-300:].decode("latin-1")
            return
        read_events(sock, head, buf, t, reply)
        if resume is not None and reply.dropping:
            sock.close()
            sock = None
            resume_stream(addr, resume, reply)
    except gevent.Timeout as exc:
        if exc is not timer:
            raise
        rec.outcome = "timeout" if rec.outcome == "eof" else rec.outcome
    except Closed:
        rec.outcome = "eof"
    except OSError as exc:
        rec.outcome = f"conn:{exc.__class__.__name__}:{exc.errno}"
    finally:
        timer.close()
        if sock is not None:
            sock.close()
        finish(rec, reply, expected)


def finish(rec: StreamRecord, reply: Reply, expected: str) -> None:
    if rec.end is None:
        rec.end = now()
    text = "".join(reply.pieces)
    rec.text_ok = text == expected
    if not rec.text_ok and rec.text is None:
        rec.text = text[:300]


def _parse_event(event: bytes) -> tuple[str, bytes, str | None]:
    """(event name, its data lines joined, its id) of one SSE event."""
    kind = "message"
    data: list[bytes] = []
    event_id = None
    for line in event.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"event":
            kind = value.decode()
        elif name == b"data":
            data.append(value)
        elif name == b"id":
            event_id = value.decode()
    return kind, b"\n".join(data), event_id


Job = tuple[float, bytes, StreamRecord, Resume | None]


def stream_jobs(spec: dict[str, Any]) -> list[Job]:
    """Each stream's start time, request, (empty) record and how to resume it, if it is to be
    dropped (spec ``drop_after``), all built before the timed phase."""
    host = f"{spec['host']}:{spec['port']}"
    tokens = spec["tokens"]
    drop_after = spec.get("drop_after", 0)
    jobs: list[Job] = []
    for index, offset, session_id, token_index in spec["items"]:
        headers = {"Accept": "text/event-stream"}
        if tokens:
            headers["Authorization"] = f"Bearer {tokens[token_index]}"
        path = f"/sessions/{session_id}/messages"
        raw = build_request("POST", path, host, headers, spec["body"])
        resume = None
        if drop_after:
            resume = Resume(host, session_id, headers.get("Authorization", ""), drop_after)
        rec = StreamRecord(index, spec["t0"] + offset)
        jobs.append((spec["t0"] + offset, raw, rec, resume))
    return jobs


def quiet_gc() -> None:
    """The client's own full collections (thousands of greenlets and records) would stall its
    hub and inflate every timestamp taken meanwhile: no cyclic GC during the timed phase."""
    gc.collect()
    gc.freeze()
    gc.disable()


def mode_streams(spec: dict[str, Any]) -> dict[str, Any]:
    addr = (spec["host"], spec["port"])
    t0, expected, timeout_s = spec["t0"], spec["expected"], spec["timeout_s"]
    jobs = stream_jobs(spec)
    login_results: list[LoginRecord] = []
    quiet_gc()
    lag = LoopLag()
    ready_at = now()
    if now() < t0:
        gevent.sleep(max(0.0, t0 - now() - 0.05))
    cpu0, wall0 = cpu_seconds(), now()
    lag.start()
    extra = []
    if spec.get("logins"):
        host = f"{spec['host']}:{spec['port']}"
        extra.append(gevent.spawn(run_logins, addr, host, t0, spec["logins"], login_results))
    greenlets = []
    for when, raw, rec, resume in jobs:
        delay = when - now()
        if delay > 0:
            gevent.sleep(delay)
        greenlets.append(gevent.spawn(run_stream, addr, raw, expected, timeout_s, rec, resume))
    gevent.joinall(greenlets + extra)
    wall1, cpu1 = now(), cpu_seconds()
    gc.enable()
    return {
        "mode": "streams",
        "ready_before_t0_s": t0 - ready_at,
        "records": [job[2].to_json() for job in jobs],
        "logins": [[x.start, x.latency_s, x.status] for x in login_results],
        "cpu_user_s": cpu1[0] - cpu0[0],
        "cpu_sys_s": cpu1[1] - cpu0[1],
        "wall_s": wall1 - wall0,
        "loop_lag_ms": lag.stop(),
    }


def run_logins(
    addr: tuple[str, int], host: str, t0: float, cfg: dict[str, Any], out: list[LoginRecord]
) -> None:
    """Open-loop logins at cfg['rate'] per second from t0 for cfg['duration_s'] seconds."""
    users = cfg["users"]
    count = int(cfg["rate"] * cfg["duration_s"])
    greenlets = []
    for i in range(count):
        when = t0 + i / cfg["rate"]
        delay = when - now()
        if delay > 0:
            gevent.sleep(delay)
        user = users[i % len(users)]
        body = {
            "email": user["email"],
            "password": user["password"],
            "device_fingerprint": cfg["fingerprint"],
        }
        raw = build_request("POST", "/auth/login", host, {}, body)
        greenlets.append(gevent.spawn(_one_login, addr, raw, out))
    gevent.joinall(greenlets)


def _one_login(addr: tuple[str, int], raw: bytes, out: list[LoginRecord]) -> None:
    start = now()
    conn = Conn(addr)
    try:
        with gevent.Timeout(30):
            status, _ = conn.request(raw)
    except gevent.Timeout:
        status = -1
    except (OSError, Closed):
        status = 0
    finally:
        conn.close()
    out.append(LoginRecord(start, now() - start, status))


# --------------------------------------------------------------------------- set-up


def mode_register(spec: dict[str, Any]) -> dict[str, Any]:
    addr = (spec["host"], spec["port"])
    host = f"{spec['host']}:{spec['port']}"
    users = spec["users"]
    out: list[dict[str, Any] | None] = [None] * len(users)

    def register(i: int) -> None:
        user = users[i]
        body = {
            "email": user["email"],
            "password": user["password"],
            "device_fingerprint": spec["fingerprint"],
        }
        conn = Conn(addr)
        try:
            status, payload = conn.request(build_request("POST", "/auth/register", host, {}, body))
        finally:
            conn.close()
        if status != 201:
            raise RuntimeError(f"register {user['email']}: {status} {payload[:300]!r}")
        out[i] = {"email": user["email"], "access_token": _loads(payload)["access_token"]}

    pool = gevent.pool.Pool(spec.get("concurrency", 4))
    for greenlet in [pool.spawn(register, i) for i in range(len(users))]:
        greenlet.get()
    return {"mode": "register", "users": out}


def mode_sessions(spec: dict[str, Any]) -> dict[str, Any]:
    """Create spec['counts'][k] sessions for token k; returns [[token_index, session_id], …]."""
    addr = (spec["host"], spec["port"])
    host = f"{spec['host']}:{spec['port']}"
    tokens = spec["tokens"]
    work = [k for k, count in enumerate(spec["counts"]) for _ in range(count)]
    random.Random(1).shuffle(work)
    created: list[list[Any]] = []
    failures: list[str] = []
    cpu0 = cpu_seconds()
    start = now()

    def worker() -> None:
        conn = Conn(addr)
        raws: dict[int, bytes] = {}
        try:
            while work:
                k = work.pop()
                raw = raws.get(k)
                if raw is None:
                    headers = {
                        "Authorization": f"Bearer {tokens[k]}",
                        "X-Device-Fingerprint": spec["fingerprint"],
                    }
                    raw = raws[k] = build_request("POST", "/sessions", host, headers, {})
                status, payload = conn.request(raw)
                if status == 503 and len(failures) < 200:  # set-up on a busy machine: again
                    work.append(k)
                    failures.append("")
                    gevent.sleep(0.5)
                    continue
                if status != 201:
                    failures.append(f"{status} {payload[:200]!r}")
                    if len(failures) > 20:
                        return
                    continue
                created.append([k, _loads(payload)["session_id"]])
        finally:
            conn.close()

    greenlets = [gevent.spawn(worker) for _ in range(spec.get("concurrency", 32))]
    gevent.joinall(greenlets, raise_error=True)
    failed = [f for f in failures if f]
    if failed:
        raise RuntimeError(f"{len(failed)} session creations failed, e.g. {failed[:1]}")
    cpu1 = cpu_seconds()
    return {
        "mode": "sessions",
        "sessions": created,
        "wall_s": now() - start,
        "cpu_s": sum(cpu1) - sum(cpu0),
    }


# --------------------------------------------------------------------------- crud


class CrudLoop:
    """`concurrency` keep-alive connections loop one op for warmup_s + duration_s."""

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.addr = (spec["host"], spec["port"])
        self.host = f"{spec['host']}:{spec['port']}"
        self.op = spec["op"]
        self.users = spec["users"]  # [{"token", "sessions": [ids]}]
        self.rng = random.Random(7)
        self.t_measure = spec["t0"] + spec["warmup_s"]
        self.t_end = self.t_measure + spec["duration_s"]
        self.results: list[CrudRecord] = []
        self.errors: list[str] = []

    def request_for(self, user: dict[str, Any]) -> bytes:
        headers = {"Authorization": f"Bearer {user['token']}"}
        if self.op == "create":
            headers["X-Device-Fingerprint"] = self.spec["fingerprint"]
            return build_request("POST", "/sessions", self.host, headers, {})
        if self.op == "list":
            return build_request("GET", "/sessions", self.host, headers)
        session_id = self.rng.choice(user["sessions"])
        return build_request("GET", f"/sessions/{session_id}", self.host, headers)

    def worker(self, slot: int) -> None:
        user = self.users[slot % len(self.users)]
        conn = Conn(self.addr)
        try:
            while True:
                raw = self.request_for(user)
                start = now()
                if start >= self.t_end:
                    return
                try:
                    status, payload = conn.request(raw)
                except (OSError, Closed) as exc:
                    status, payload = 0, repr(exc).encode()
                    conn.close()
                if status not in (200, 201) and len(self.errors) < 20:
                    self.errors.append(f"{status} {payload[:200]!r}")
                if start >= self.t_measure:
                    self.results.append(CrudRecord(start, now() - start, status))
        finally:
            conn.close()


def mode_crud(spec: dict[str, Any]) -> dict[str, Any]:
    loop = CrudLoop(spec)
    quiet_gc()
    gevent.sleep(max(0.0, spec["t0"] - now()))
    lag = LoopLag()
    lag.start()
    cpu0, wall0 = cpu_seconds(), now()
    gevent.joinall([gevent.spawn(loop.worker, i) for i in range(spec["concurrency"])])
    cpu1 = cpu_seconds()
    gc.enable()
    return {
        "mode": "crud",
        "op": loop.op,
        "results": [[r.start, r.latency_s, r.status] for r in loop.results],
        "errors": loop.errors,
        "cpu_user_s": cpu1[0] - cpu0[0],
        "cpu_sys_s": cpu1[1] - cpu0[1],
        "wall_s": now() - wall0,
        "loop_lag_ms": lag.stop(),
    }


MODES = {
    "streams": mode_streams,
    "register": mode_register,
    "sessions": mode_sessions,
    "crud": mode_crud,
}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m bench.client SPEC.json OUT.json", file=sys.stderr)
        return 2
    limits = raise_nofile()
    with open(argv[1]) as fh:
        spec = json.load(fh)
    result = MODES[spec["mode"]](spec)
    result["nofile"] = list(limits)
    with open(argv[2], "w") as fh:
        json.dump(result, fh, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
