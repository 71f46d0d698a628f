"""Server side of a run: a fresh database, migrations, and gunicorn on a free port.

Everything here runs in the orchestrator process (no gevent): it creates and drops the
database (PostgreSQL ``bench_<name>`` or an SQLite file in a temporary directory), runs
``flask --app wsgi db upgrade`` and ``users set-tier``, and starts ``gunicorn -c
gunicorn.conf.py wsgi:app`` (or the bare floor app) in its own process group. Both take the
checkout to serve (``root``): by default this repository, or another worktree of it, so that
two commits can be measured side by side in one run with one virtualenv and one client.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.paths import PG_ADMIN, ROOT, VENV_BIN
from bench.records import GcPause
from bench.sampling import children, proc_cpu_s


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_ready(root: Path = ROOT) -> bool:
    return (root / "wsgi.py").is_file() and (root / "gunicorn.conf.py").is_file()


# --------------------------------------------------------------------------- database


class Database:
    """A fresh database for one benchmark: PostgreSQL ``bench_<name>`` or an SQLite temp file."""

    def __init__(self, kind: str, name: str, root: Path = ROOT):
        if kind not in ("postgres", "sqlite", "none"):
            raise ValueError(f"unknown database {kind!r}")
        self.kind = kind
        self.name = f"bench_{name}"
        self.root = root
        self.tmpdir: str | None = None
        self.url = ""

    def create(self) -> None:
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"
        elif self.kind == "sqlite":
            self.tmpdir = tempfile.mkdtemp(prefix=f"{self.name}_")
            self.url = f"sqlite:///{self.tmpdir}/bench.db"

    def drop(self) -> None:
        if self.kind == "postgres":
            import psycopg

            try:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            except psycopg.Error as exc:
                print(f"warning: could not drop {self.name}: {exc}", file=sys.stderr)
        elif self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def flask(self, *args: str, timeout: float = 120) -> str:
        """Run ``flask --app wsgi ARGS`` against this database; its output, or raise."""
        env = dict(os.environ, DATABASE_URL=self.url, CLARITY_ENV="development")
        proc = subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def migrate(self) -> None:
        if self.kind != "none":
            self.flask("db", "upgrade", timeout=300)

    def rows(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """One statement on this PostgreSQL database (autocommit); its rows, if any."""
        import psycopg

        with psycopg.connect(PG_ADMIN, dbname=self.name, autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []


# --------------------------------------------------------------------------- gunicorn


@dataclass
class Server:
    """gunicorn serving the app (or the bare floor) on a free 127.0.0.1 port."""

    app: str  # "app" | "bare"
    workers: int
    db: Database
    delay_ms: int
    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    gc_log: str = ""  # set: serve through bench/gc_probe_conf.py, logging GC pauses here
    root: Path = ROOT  # the checkout served
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        gunicorn = str(VENV_BIN / "gunicorn")
        conf = self.base_conf()
        if self.gc_log:
            conf = str(ROOT / "bench" / "gc_probe_conf.py")
        if self.app == "bare":
            return [gunicorn, "-c", conf, "bench.bare_app:app"]
        return [gunicorn, "-c", conf, "wsgi:app"]

    def base_conf(self) -> str:
        return "bench/bare_gunicorn_conf.py" if self.app == "bare" else "gunicorn.conf.py"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PORT=str(self.port),
            WEB_CONCURRENCY=str(self.workers),
            STREAM_TOKEN_DELAY_MS=str(self.delay_ms),
            RATELIMIT_ENABLED="false",
            CLARITY_ENV="development",
            PYTHONUNBUFFERED="1",
        )
        if self.db.url:
            env["DATABASE_URL"] = self.db.url
        if self.gc_log:
            env["BENCH_GC_LOG"] = self.gc_log
            env["BENCH_BASE_CONF"] = self.base_conf()
        env.update(self.extra_env)
        return env

    def start(self, ready_timeout: float = 90.0) -> None:
        self.port = free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=ROOT if self.app == "bare" else self.root,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._wait_ready(self.proc, ready_timeout)

    def _wait_ready(self, proc: subprocess.Popen[bytes], ready_timeout: float) -> None:
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({proc.returncode}):\n{self.log_tail()}")
            # every worker must have loaded the app: a few more probes spread over them
            if (
                len(children(proc.pid)) >= self.workers
                and self._healthy()
                and all(self._healthy() for _ in range(2 * self.workers))
            ):
                time.sleep(0.5)
                return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready within {ready_timeout}s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def pids(self) -> list[int]:
        if self.proc is None:
            return []
        return [self.proc.pid, *children(self.proc.pid)]

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid) if self.proc is not None else []

    def cpu_s(self) -> float:
        return sum(proc_cpu_s(pid) for pid in self.pids())

    def stop(self, grace: float = 25.0) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def gc_pauses(self) -> tuple[list[GcPause], list[list[int]]]:
        """GC pauses >= 1 ms written by the probe at worker exit, and per-worker counts."""
        pauses: list[GcPause] = []
        counts: list[list[int]] = []
        if not self.gc_log:
            return pauses, counts
        directory = Path(self.gc_log).parent
        for path in directory.glob(Path(self.gc_log).name + ".*"):
            lines = path.read_text().splitlines()
            path.unlink()
            if not lines:
                continue
            counts.append(json.loads(lines[0])["counts"])
            pauses += [GcPause(*json.loads(line)) for line in lines[1:]]
        return pauses, counts

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# --------------------------------------------------------------------------- what ran, where


def machine_info() -> dict[str, Any]:
    with open("/proc/meminfo") as fh:
        mem_kb = int(fh.readline().split()[1])
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
    import gevent
    import gunicorn

    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "mem_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
        "gevent": gevent.__version__,
        "gunicorn": gunicorn.__version__,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "somaxconn": _read("/proc/sys/net/core/somaxconn"),
        "ip_local_port_range": _read("/proc/sys/net/ipv4/ip_local_port_range"),
    }


def git_head(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=7", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.stdout.strip() or "?"


def app_digest(root: Path = ROOT) -> dict[str, Any]:
    """A digest of the served code (clarity_api/, wsgi.py, gunicorn.conf.py, migrations/),
    its commit, and its newest file: results name exactly what ran."""
    files = sorted(
        [*root.glob("clarity_api/**/*.py"), *root.glob("migrations/**/*.py")]
        + [p for p in (root / "wsgi.py", root / "gunicorn.conf.py") if p.exists()]
    )
    digest = hashlib.sha256()
    newest = 0.0
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
        newest = max(newest, path.stat().st_mtime)
    return {
        "sha256_12": digest.hexdigest()[:12],
        "commit": git_head(root),
        "root": str(root),
        "files": len(files),
        "newest_mtime_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(newest)),
    }


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read().strip().replace("\t", " ")
    except OSError:
        return "?"
