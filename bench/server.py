"""Server side of a run: a fresh database, migrations, gunicorn on a free port, and sampling.

Everything here runs in the orchestrator process (no gevent): it creates and drops the
database (PostgreSQL ``bench_<name>`` or an SQLite file in a temporary directory), runs
``flask --app wsgi db upgrade`` and ``users set-tier``, starts ``gunicorn -c gunicorn.conf.py
wsgi:app`` (or the bare floor app) in its own process group, and samples the master and
workers from /proc (CPU ticks, RSS/PSS from smaps_rollup, open fds) and, on PostgreSQL, the
connections of the run's database in ``pg_stat_activity``.
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
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_ready() -> bool:
    return (ROOT / "wsgi.py").is_file() and (ROOT / "gunicorn.conf.py").is_file()


# --------------------------------------------------------------------------- database


class Database:
    """A fresh database for one benchmark: PostgreSQL ``bench_<name>`` or an SQLite temp file."""

    def __init__(self, kind: str, name: str):
        if kind not in ("postgres", "sqlite", "none"):
            raise ValueError(f"unknown database {kind!r}")
        self.kind = kind
        self.name = f"bench_{name}"
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
            cwd=ROOT,
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


class PgStat:
    """Counts the run database's connections in pg_stat_activity, by state."""

    def __init__(self, dbname: str):
        import psycopg

        self.dbname = dbname
        self.conn = psycopg.connect(PG_ADMIN, autocommit=True)

    def sample(self) -> tuple[dict[str, int], float]:
        """Connections by state, and the age in ms of the oldest open transaction."""
        rows = self.conn.execute(
            "select coalesce(state, 'none'), count(*), "
            "coalesce(max(extract(epoch from now() - xact_start)) * 1000, 0) "
            "from pg_stat_activity where datname = %s and pid <> pg_backend_pid() group by 1",
            (self.dbname,),
        ).fetchall()
        counts = {state: int(count) for state, count, _ in rows}
        oldest = max((float(age) for state, _, age in rows if state != "idle"), default=0.0)
        return counts, oldest

    def close(self) -> None:
        self.conn.close()


# --------------------------------------------------------------------------- /proc


def proc_cpu_s(pid: int, reaped: bool = False) -> float:
    """utime + stime of a process (all its threads), in seconds; 0 if it is gone.

    With `reaped`, add cutime + cstime: the CPU of children it has already waited for.
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def proc_mem_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB from /proc/<pid>/smaps_rollup; (0, 0) if it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def proc_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


class PgBackendCpu:
    """CPU of the PostgreSQL backends serving one database, exited ones included.

    Each `update()` (the sampler calls it every tick) reads every live backend whose command
    line names the database; a backend that exits keeps the last value seen. Other
    databases' backends (tests running elsewhere on the machine) are not counted.
    """

    def __init__(self, dbname: str):
        self.marker = f" {dbname} "
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.lock = threading.Lock()

    def update(self) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmdline = fh.read()
            except OSError:
                continue
            if not cmdline.startswith(b"postgres: ") or self.marker.encode() not in cmdline:
                continue
            pid = int(entry)
            cpu = proc_cpu_s(pid)
            with self.lock:
                self.first.setdefault(pid, cpu)
                self.last[pid] = cpu

    def mark(self) -> dict[int, float]:
        """The current per-backend values: pass to `since()` later."""
        self.update()
        with self.lock:
            return dict(self.last)

    def since(self, mark: dict[int, float]) -> float:
        self.update()
        with self.lock:
            return sum(cpu - mark.get(pid, 0.0) for pid, cpu in self.last.items())


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return float(total - idle), float(total)


def machine_info() -> dict[str, Any]:
    with open("/proc/meminfo") as fh:
        mem_kb = int(fh.readline().split()[1])
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
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


def app_digest() -> dict[str, Any]:
    """A digest of the served code (clarity_api/, wsgi.py, gunicorn.conf.py, migrations/):
    the tree has no commits yet and changes while we measure, so results name what ran."""
    files = sorted(
        [*ROOT.glob("clarity_api/**/*.py"), *ROOT.glob("migrations/**/*.py")]
        + [p for p in (ROOT / "wsgi.py", ROOT / "gunicorn.conf.py") if p.exists()]
    )
    digest = hashlib.sha256()
    newest = 0.0
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
        newest = max(newest, path.stat().st_mtime)
    return {
        "sha256_12": digest.hexdigest()[:12],
        "files": len(files),
        "newest_mtime_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(newest)),
    }


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read().strip().replace("\t", " ")
    except OSError:
        return "?"


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
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        gunicorn = str(VENV_BIN / "gunicorn")
        conf = self.base_conf()
        if self.gc_log:
            conf = "bench/gc_probe_conf.py"
        if self.app == "bare":
            return [gunicorn, "-c", conf, "bench.bare_app:app"]
        return [gunicorn, "-c", conf, "wsgi:app"]

    def base_conf(self) -> str:
        return "bench/bare_gunicorn_conf.py" if self.app == "bare" else "gunicorn.conf.py"

    def start(self, ready_timeout: float = 90.0) -> None:
        self.port = free_port()
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
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}):\n{self.log_tail()}")
            # every worker must have loaded the app: a few more probes spread over them
            if (
                len(children(self.proc.pid)) >= self.workers
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

    def gc_pauses(self) -> tuple[list[list[Any]], list[list[int]]]:
        """GC pauses >= 1 ms written by the probe at worker exit, and per-worker counts."""
        pauses: list[list[Any]] = []
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
            pauses += [json.loads(line) for line in lines[1:]]
        return pauses, counts

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# --------------------------------------------------------------------------- sampling


class Sampler(threading.Thread):
    """Samples the server (and pg_stat_activity) every `interval` seconds in a thread."""

    def __init__(
        self,
        server: Server,
        pg: PgStat | None,
        interval: float = 0.5,
        pg_cpu: PgBackendCpu | None = None,
    ):
        super().__init__(daemon=True)
        self.server = server
        self.pg = pg
        self.pg_cpu = pg_cpu
        self.interval = interval
        self.samples: list[dict[str, Any]] = []
        self._stop_event = threading.Event()

    def snapshot(self) -> dict[str, Any]:
        pg: dict[str, Any] = {}
        if self.pg is not None:  # first, and timed: it is matched against stream phases
            before = time.monotonic()
            pg["pg"], pg["pg_xact_max_ms"] = self.pg.sample()
            pg["pg_t"] = [before, time.monotonic()]
        workers = self.server.worker_pids()
        mem = [proc_mem_kb(pid) for pid in workers]
        sample: dict[str, Any] = {
            "t": time.monotonic(),
            "rss_kb": sum(m[0] for m in mem),
            "pss_kb": sum(m[1] for m in mem),
            "worker_rss_kb": [m[0] for m in mem],
            "fds": sum(proc_fds(pid) for pid in workers),
            "worker_fds": [proc_fds(pid) for pid in workers],
        }
        sample.update(pg)
        if self.pg_cpu is not None:
            self.pg_cpu.update()
        return sample

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.samples.append(self.snapshot())
            except Exception as exc:  # a sample must never kill the run
                self.samples.append({"t": time.monotonic(), "error": repr(exc)})
            self._stop_event.wait(self.interval)

    def stop(self) -> list[dict[str, Any]]:
        self._stop_event.set()
        self.join(timeout=10)
        return self.samples
