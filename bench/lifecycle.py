"""The life of one run: database, server and clients up, the untimed set-up, and everything
stopped and dropped again whatever happens (Ctrl-C, SIGTERM, an error)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.paths import RESULTS, ROOT
from bench.records import GcPause, Planned, SessionRef
from bench.sampling import PgStat
from bench.server import Database, Server, app_digest, app_ready

EXPECTED = "I understand how you feel. Let me help you work through this."
WORDS = 12
BODY = {"content": "I feel stuck at work"}
PASSWORD = "Bench-R1ver-Stone"
FINGERPRINT = "bench-1"


class Interrupted(Exception):
    pass


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Interrupted(f"signal {signum}")


class Run:
    """One benchmark run: database, server, clients; cleans up whatever happens.

    `root` is the checkout to serve (another worktree for a side-by-side run) and `app` the
    real app or the bare floor; both default to the command line's.
    """

    def __init__(
        self,
        args: argparse.Namespace,
        bench: str,
        root: Path | None = None,
        app: str | None = None,
    ):
        self.args = args
        self.bench = bench
        self.app = app or args.app
        checkouts = getattr(args, "checkout", None) or []
        root = root or (Path(checkouts[0]).resolve() if checkouts else ROOT)
        self.root = root
        self.db = Database("none" if self.app == "bare" else args.db, bench, root)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.run_id = f"{bench}-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.tmp = Path(tempfile.mkdtemp(prefix="bench_run_"))
        self.server = Server(
            app=self.app,
            workers=args.workers,
            db=self.db,
            delay_ms=args.delay_ms,
            log_path=RESULTS / "logs" / f"{self.run_id}.log",
            extra_env=server_env(args),
            gc_log=str(self.tmp / "gc") if args.gc_probe else "",
            root=root,
        )
        self.raw_count = 0
        self.gc_pauses: list[GcPause] = []
        self.gc_counts: list[list[int]] = []
        self.children: list[subprocess.Popen[bytes]] = []
        self.pg: PgStat | None = None
        self.users: list[dict[str, str]] = []
        self.code: dict[str, Any] = {}
        self.stream_spec_extra: dict[str, Any] = {}  # more keys for the streams' client spec

    def __enter__(self) -> Run:
        if self.app == "app" and not app_ready(self.root):
            raise SystemExit(f"{self.root}: no wsgi.py / gunicorn.conf.py: use --app bare")
        signal.signal(signal.SIGTERM, _on_sigterm)
        self.code = app_digest(self.root) if self.app == "app" else {"bare": True}
        self.db.create()
        self.db.migrate()
        self.server.start()
        if self.db.kind == "postgres":
            self.pg = PgStat(self.db.name)
        pid = self.server.proc.pid if self.server.proc else "?"
        print(
            f"[{self.run_id}] server pid {pid} port {self.server.port}, "
            f"workers {self.server.worker_pids()}, code {self.code}",
            flush=True,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.children:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        self.server.stop()
        self.gc_pauses, self.gc_counts = self.server.gc_pauses()
        if self.pg is not None:
            self.pg.close()
        if not self.args.keep_db:
            self.db.drop()
        for path in self.tmp.iterdir():
            path.unlink()
        self.tmp.rmdir()

    # ---------------------------------------------------------------- clients

    def client(self, spec: dict[str, Any], timeout: float, tag: str) -> dict[str, Any]:
        return self.clients_run([spec], timeout, tag)[0]

    def clients_run(
        self, specs: list[dict[str, Any]], timeout: float, tag: str
    ) -> list[dict[str, Any]]:
        """Run one client process (``bench.client``) per spec at once; their outputs, or raise."""
        procs = []
        outs = []
        for i, spec in enumerate(specs):
            spec_path = self.tmp / f"{tag}-{i}.spec.json"
            out_path = self.tmp / f"{tag}-{i}.out.json"
            spec_path.write_text(json.dumps(dict(spec, host="127.0.0.1", port=self.server.port)))
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.client", str(spec_path), str(out_path)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
            )
            self.children.append(proc)
            procs.append(proc)
            outs.append(out_path)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"client {tag} did not finish within {timeout:.0f}s") from None
            if proc.returncode != 0:
                raise RuntimeError(f"client {tag} failed (exit {proc.returncode})")
        results = [json.loads(path.read_text()) for path in outs]
        for path in outs:
            path.unlink()
        return results

    # ---------------------------------------------------------------- set-up (untimed)

    def setup(self, sessions: int, users: int) -> tuple[list[str], list[SessionRef]]:
        """Register `users` pro users and open `sessions` sessions: (tokens, sessions)."""
        if self.app == "bare":
            return [], [SessionRef(0, str(uuid.uuid4())) for _ in range(sessions)]
        started = time.monotonic()
        tokens = self._register(users)
        created: list[SessionRef] = []
        if sessions:
            counts = [sessions // users + (1 if i < sessions % users else 0) for i in range(users)]
            spec: dict[str, Any] = {"mode": "sessions", "tokens": tokens, "counts": counts}
            spec.update(fingerprint=FINGERPRINT, concurrency=32)
            out = self.client(spec, timeout=120 + sessions / 20, tag="sessions")
            created = [SessionRef(k, sid) for k, sid in out["sessions"]]
            rate = len(created) / out["wall_s"] if out["wall_s"] else 0
            print(f"  set-up: {len(created)} sessions at {rate:,.0f}/s", flush=True)
        print(f"  set-up took {time.monotonic() - started:.1f}s (untimed)", flush=True)
        return tokens, created

    def _register(self, users: int) -> list[str]:
        """Register the bench users over HTTP and make them pro; their access tokens."""
        tag = uuid.uuid4().hex[:8]
        self.users = [
            {"email": f"bench-{tag}-{i}@example.com", "password": PASSWORD} for i in range(users)
        ]
        spec = {"mode": "register", "users": self.users, "fingerprint": FINGERPRINT}
        reg = self.client(spec, timeout=120, tag="register")
        for user in self.users:
            self.db.flask("users", "set-tier", user["email"], "pro")
        return [u["access_token"] for u in reg["users"]]


def server_env(args: argparse.Namespace) -> dict[str, str]:
    """--server-env K=V pairs, and REDIS_URL from --redis."""
    env = dict(kv.split("=", 1) for kv in (args.server_env or []))
    if getattr(args, "redis", ""):
        env["REDIS_URL"] = args.redis
    return env


def uniform_plan(n: int, over: float, sessions: list[SessionRef]) -> list[Planned]:
    """N streams started evenly over `over` seconds, one per session."""
    step = over / n if n else 0.0
    return [Planned(i * step, sessions[i]) for i in range(n)]


def live_phases(args: argparse.Namespace, quiet: str, loud: str) -> tuple[int, list[str]]:
    """Stream starts per phase that keep `--live` streams open for `--duration` s, and the two
    phases (without, then with the extra load) alternated `--repeat` times."""
    rate = args.live / (WORDS * args.delay_ms / 1000)  # starts per second
    return int(rate * args.duration), [quiet, loud] * args.repeat


def add_live_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--live", type=int, default=500, help="streams kept open at once")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of stream starts")
    p.add_argument("--repeat", type=int, default=1, help="alternate the two phases N times")


def mean(values: list[float]) -> float:
    return sum(values) / len(values)
