"""The load client: gevent greenlets on raw sockets, minimal HTTP/1.1 and SSE parsing.

Run by the orchestrator (``bench.runner``) as a separate process, one or several at once::

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


def run_stream(
    addr: tuple[str, int], raw: bytes, expected: str, timeout_s: float, rec: list[Any]
) -> None:
    """Open one stream and fill `rec` in place.

    rec = [index, scheduled, start, connected, headers, end, outcome, text_ok, token_times, text]
    (times absolute monotonic seconds; text only kept when it did not match).
    """
    start = now()
    rec[2] = start
    times: list[float] = []
    pieces: list[str] = []
    outcome = "eof"
    sock = None
    timer = gevent.Timeout(timeout_s)
    timer.start()
    try:
        sock = open_socket(addr)
        rec[3] = now()
        sock.sendall(raw)
        buf = b""
        while (end := buf.find(b"\r\n\r\n")) < 0:
            data = sock.recv(65536)
            if not data:
                raise Closed()
            buf += data
        t = rec[4] = now()
        head = buf[:end]
        buf = buf[end + 4 :]
        status = int(head[9:12])
        if status != 200:
            outcome = f"http_{status}"
            rec[9] = (head + b"\r\n\r\n" + buf)[-300:].decode("latin-1")
            return
        chunked = b"chunked" in head.lower()
        body = b""
        finished = False
        while True:
            if chunked:
                while True:
                    eol = buf.find(b"\r\n")
                    if eol < 0:
                        break
                    size = int(buf[:eol], 16)
                    if size == 0:
                        finished = True
                        break
                    stop = eol + 2 + size
                    if len(buf) < stop + 2:
                        break
                    body += buf[eol + 2 : stop]
                    buf = buf[stop + 2 :]
            else:
                body += buf
                buf = b""
            while (sep := body.find(b"\n\n")) >= 0:
                event = body[:sep]
                body = body[sep + 2 :]
                if event.startswith(TOKEN_PREFIX):
                    pieces.append(_loads(event[19:])["content"])
                    times.append(t)
                    continue
                kind, data_lines = _parse_event(event)
                if kind == "token":
                    pieces.append(_loads(b"\n".join(data_lines))["content"])
                    times.append(t)
                elif kind == "done":
                    outcome = "done"
                    rec[5] = t
                elif kind == "error":
                    try:
                        code = _loads(b"\n".join(data_lines)).get("error", "?")
                    except ValueError:
                        code = "?"
                    outcome = f"error:{code}"
                    rec[5] = t
            if finished:
                break
            data = sock.recv(65536)
            t = now()
            if not data:
                break
            buf += data
    except gevent.Timeout as exc:
        if exc is not timer:
            raise
        outcome = "timeout" if outcome == "eof" else outcome
    except Closed:
        outcome = "eof"
    except OSError as exc:
        outcome = f"conn:{exc.__class__.__name__}:{exc.errno}"
    finally:
        timer.close()
        if sock is not None:
            sock.close()
        if rec[5] is None:
            rec[5] = now()
        rec[6] = outcome
        rec[8] = times
        text = "".join(pieces)
        rec[7] = text == expected
        if not rec[7] and rec[9] is None:
            rec[9] = text[:300]


def _parse_event(event: bytes) -> tuple[str, list[bytes]]:
    kind = "message"
    data: list[bytes] = []
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
    return kind, data


def mode_streams(spec: dict[str, Any]) -> dict[str, Any]:
    addr = (spec["host"], spec["port"])
    host = f"{spec['host']}:{spec['port']}"
    t0 = spec["t0"]
    expected = spec["expected"]
    timeout_s = spec["timeout_s"]
    body = spec["body"]
    tokens = spec["tokens"]
    records: list[list[Any]] = []
    jobs = []
    for index, offset, session_id, token_index in spec["items"]:
        headers = {"Accept": "text/event-stream"}
        if tokens:
            headers["Authorization"] = f"Bearer {tokens[token_index]}"
        raw = build_request("POST", f"/sessions/{session_id}/messages", host, headers, body)
        rec = [index, t0 + offset, None, None, None, None, None, None, None, None]
        records.append(rec)
        jobs.append((t0 + offset, raw, rec))
    logins = spec.get("logins")
    login_results: list[list[Any]] = []
    # The client's own full collections (thousands of greenlets and records) would stall its
    # hub and inflate every timestamp taken meanwhile: no cyclic GC during the timed phase.
    gc.collect()
    gc.freeze()
    gc.disable()
    lag = LoopLag()
    ready_at = now()
    greenlets: list[gevent.Greenlet] = []
    if now() < t0:
        gevent.sleep(max(0.0, t0 - now() - 0.05))
    cpu0 = cpu_seconds()
    wall0 = now()
    lag.start()
    login_greenlet = None
    if logins:
        login_greenlet = gevent.spawn(run_logins, addr, host, t0, logins, login_results)
    spawn = gevent.spawn
    for when, raw, rec in jobs:
        delay = when - now()
        if delay > 0:
            gevent.sleep(delay)
        greenlets.append(spawn(run_stream, addr, raw, expected, timeout_s, rec))
    gevent.joinall(greenlets)
    if login_greenlet is not None:
        login_greenlet.join()
    wall1 = now()
    cpu1 = cpu_seconds()
    lags = lag.stop()
    gc.enable()
    return {
        "mode": "streams",
        "ready_before_t0_s": t0 - ready_at,
        "records": records,
        "logins": login_results,
        "cpu_user_s": cpu1[0] - cpu0[0],
        "cpu_sys_s": cpu1[1] - cpu0[1],
        "wall_s": wall1 - wall0,
        "loop_lag_ms": lags,
    }


def run_logins(
    addr: tuple[str, int], host: str, t0: float, cfg: dict[str, Any], out: list[list[Any]]
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


def _one_login(addr: tuple[str, int], raw: bytes, out: list[list[Any]]) -> None:
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
    out.append([start, now() - start, status])


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
        raws = {}
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
    if failures:
        raise RuntimeError(f"{len(failures)} session creations failed, e.g. {failures[0]}")
    cpu1 = cpu_seconds()
    return {
        "mode": "sessions",
        "sessions": created,
        "wall_s": now() - start,
        "cpu_s": sum(cpu1) - sum(cpu0),
    }


# --------------------------------------------------------------------------- crud


def mode_crud(spec: dict[str, Any]) -> dict[str, Any]:
    """`concurrency` keep-alive connections loop `op` for warmup_s + duration_s."""
    addr = (spec["host"], spec["port"])
    host = f"{spec['host']}:{spec['port']}"
    op = spec["op"]
    users = spec["users"]  # [{"token", "sessions": [ids]}]
    rng = random.Random(7)
    t0 = spec["t0"]
    t_measure = t0 + spec["warmup_s"]
    t_end = t_measure + spec["duration_s"]
    results: list[list[float]] = []  # [start, latency_s, status]
    errors: list[str] = []

    def request_for(user: dict[str, Any]) -> bytes:
        headers = {"Authorization": f"Bearer {user['token']}"}
        if op == "create":
            headers["X-Device-Fingerprint"] = spec["fingerprint"]
            return build_request("POST", "/sessions", host, headers, {})
        if op == "list":
            return build_request("GET", "/sessions", host, headers)
        session_id = rng.choice(user["sessions"])
        return build_request("GET", f"/sessions/{session_id}", host, headers)

    def worker(slot: int) -> None:
        user = users[slot % len(users)]
        conn = Conn(addr)
        try:
            while True:
                raw = request_for(user)
                start = now()
                if start >= t_end:
                    return
                try:
                    status, payload = conn.request(raw)
                except (OSError, Closed) as exc:
                    status = 0
                    payload = repr(exc).encode()
                    conn.close()
                if status not in (200, 201) and len(errors) < 20:
                    errors.append(f"{status} {payload[:200]!r}")
                if start >= t_measure:
                    results.append([start, now() - start, status])
        finally:
            conn.close()

    gc.collect()
    gc.freeze()
    gc.disable()
    gevent.sleep(max(0.0, t0 - now()))
    lag = LoopLag()
    lag.start()
    cpu0 = cpu_seconds()
    wall0 = now()
    gevent.joinall([gevent.spawn(worker, i) for i in range(spec["concurrency"])])
    cpu1 = cpu_seconds()
    gc.enable()
    return {
        "mode": "crud",
        "op": op,
        "results": results,
        "errors": errors,
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
