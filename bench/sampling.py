"""Sampling during a timed phase: /proc (CPU, memory, fds), pg_stat_activity, PostgreSQL
backends' CPU, the machine's busy time, py-spy profiles and the GC probe's pauses."""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.paths import PG_ADMIN, VENV_BIN
from bench.records import GcPause, PgActivity, ServerSample
from bench.stats import table

CLK_TCK = os.sysconf("SC_CLK_TCK")


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


@dataclass(slots=True)
class MachineCpu:
    """Busy and total jiffies of the whole machine, from /proc/stat."""

    busy: float
    total: float

    @classmethod
    def now(cls) -> MachineCpu:
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        idle = values[3] + values[4]
        total = sum(values[:8])
        return cls(float(total - idle), float(total))

    def cores_since(self, before: MachineCpu, ours_s: float = 0.0) -> float | None:
        """Cores busy between `before` and this sample, less `ours_s` CPU seconds."""
        total = self.total - before.total
        if not total:
            return None
        busy = self.busy - before.busy - ours_s * CLK_TCK
        return busy / total * (os.cpu_count() or 1)


def self_cpu_s() -> float:
    """CPU of this orchestrator process (its sampling thread included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(slots=True)
class Quiet:
    waited_s: float
    busy_cores_before: float


def wait_quiet(max_wait: float, threshold_cores: float) -> Quiet:
    """Wait (bounded) until the rest of the machine uses < threshold cores over 1 s."""
    started = time.monotonic()
    while True:
        before = MachineCpu.now()
        time.sleep(1.0)
        busy_cores = MachineCpu.now().cores_since(before) or 0.0
        waited = time.monotonic() - started
        if busy_cores < threshold_cores or waited >= max_wait:
            if busy_cores >= threshold_cores:
                print(
                    f"  machine still busy ({busy_cores:.2f} cores) after {waited:.0f}s: "
                    "running anyway",
                    flush=True,
                )
            return Quiet(round(waited, 1), round(busy_cores, 2))


# --------------------------------------------------------------------------- PostgreSQL


class PgStat:
    """Counts the run database's connections in pg_stat_activity, by state."""

    def __init__(self, dbname: str):
        import psycopg

        self.dbname = dbname
        self.conn = psycopg.connect(PG_ADMIN, autocommit=True)

    def sample(self) -> PgActivity:
        before = time.monotonic()
        rows = self.conn.execute(
            "select coalesce(state, 'none'), count(*), "
            "coalesce(max(extract(epoch from now() - xact_start)) * 1000, 0) "
            "from pg_stat_activity where datname = %s and pid <> pg_backend_pid() group by 1",
            (self.dbname,),
        ).fetchall()
        counts = {state: int(count) for state, count, _ in rows}
        oldest = max((float(age) for state, _, age in rows if state != "idle"), default=0.0)
        return PgActivity(counts, oldest, (before, time.monotonic()))

    def close(self) -> None:
        self.conn.close()


class PgBackendCpu:
    """CPU of the PostgreSQL backends serving one database, exited ones included.

    Each `update()` (the sampler calls it every tick) reads every live backend whose command
    line names the database; a backend that exits keeps the last value seen. Other
    databases' backends (tests running elsewhere on the machine) are not counted.
    """

    def __init__(self, dbname: str):
        self.marker = f" {dbname} ".encode()
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
            if cmdline.startswith(b"postgres: ") and self.marker in cmdline:
                cpu = proc_cpu_s(int(entry))
                with self.lock:
                    self.last[int(entry)] = cpu

    def mark(self) -> dict[int, float]:
        """The current per-backend values: pass to `since()` later."""
        self.update()
        with self.lock:
            return dict(self.last)

    def since(self, mark: dict[int, float]) -> float:
        self.update()
        with self.lock:
            return sum(cpu - mark.get(pid, 0.0) for pid, cpu in self.last.items())


# --------------------------------------------------------------------------- the sampler


class Sampler(threading.Thread):
    """Samples the workers (and pg_stat_activity) every `interval` seconds in a thread."""

    def __init__(
        self,
        worker_pids: Callable[[], list[int]],
        pg: PgStat | None,
        interval: float = 0.5,
        pg_cpu: PgBackendCpu | None = None,
    ):
        super().__init__(daemon=True)
        self.worker_pids = worker_pids
        self.pg = pg
        self.pg_cpu = pg_cpu
        self.interval = interval
        self.samples: list[ServerSample] = []
        self._stop_event = threading.Event()

    def snapshot(self) -> ServerSample:
        # pg first, and timed: it is matched against the streams' phases
        pg = self.pg.sample() if self.pg is not None else None
        workers = self.worker_pids()
        mem = [proc_mem_kb(pid) for pid in workers]
        worker_fds = [proc_fds(pid) for pid in workers]
        if self.pg_cpu is not None:
            self.pg_cpu.update()
        return ServerSample(
            t=time.monotonic(),
            rss_kb=sum(m[0] for m in mem),
            pss_kb=sum(m[1] for m in mem),
            worker_rss_kb=[m[0] for m in mem],
            fds=sum(worker_fds),
            worker_fds=worker_fds,
            pg=pg,
        )

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.samples.append(self.snapshot())
            except Exception as exc:  # a sample must never kill the run
                self.samples.append(ServerSample(t=time.monotonic(), error=repr(exc)))
            self._stop_event.wait(self.interval)

    def stop(self) -> list[ServerSample]:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=10)
        return self.samples


# --------------------------------------------------------------------------- py-spy


class Profiler:
    """``py-spy record`` of the server's workers (GIL-holding samples) over a timed phase."""

    def __init__(self, pid: int, out: Path):
        self.pid = pid
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, t0: float, duration_s: float) -> subprocess.Popen[bytes]:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [str(VENV_BIN / "py-spy"), "record", "-p", str(self.pid)]
        cmd += ["-s", "-g", "--nonblocking", "-r", "100", "-f", "raw", "-o", str(self.out)]
        cmd += ["-d", str(max(1, int(duration_s + 1)))]
        time.sleep(max(0.0, t0 - time.monotonic() - 0.4))
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return self.proc

    def finish(self) -> str:
        """Wait for py-spy (bounded) and return the hottest functions."""
        if self.proc is not None:
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return profile_report(self.out) if self.out.exists() else f"no profile {self.out.name}"


def _profile_counts(path: Path) -> tuple[dict[str, int], dict[str, int], int]:
    inclusive: dict[str, int] = {}
    leaf: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        if frames:
            leaf[frames[-1]] = leaf.get(frames[-1], 0) + count
    return inclusive, leaf, total


def profile_report(path: Path, top: int = 25) -> str:
    """Inclusive share of GIL-holding samples per function, from a py-spy raw profile."""
    inclusive, leaf, total = _profile_counts(path)
    if not total:
        return f"profile {path.name}: no samples"

    def rows(counts: dict[str, int], limit: int) -> list[tuple[str, str]]:
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
        return [(f"{100 * n / total:5.1f}%", name[:110]) for name, n in ranked]

    return table(
        f"py-spy {path.name}: {total} GIL-holding samples (inclusive, then self)",
        [*rows(inclusive, top), ("-- self", ""), *rows(leaf, 15)],
    )


# --------------------------------------------------------------------------- GC probe


@dataclass(slots=True)
class GcSummary:
    """Server GC pauses (from --gc-probe) that ended inside a phase."""

    pauses_ge_1ms: int
    gen2_pauses: int
    gen2_max_ms: float | None
    max_ms: float | None
    total_ms: float
    over_20ms: int


def gc_summary(pauses: list[GcPause], start: float, end: float | None) -> GcSummary | None:
    if end is None:
        return None
    inside = [p for p in pauses if start <= p.end <= end]
    gen2 = [p.pause_ms for p in inside if p.generation == 2]
    return GcSummary(
        pauses_ge_1ms=len(inside),
        gen2_pauses=len(gen2),
        gen2_max_ms=max(gen2, default=None),
        max_ms=max((p.pause_ms for p in inside), default=None),
        total_ms=sum(p.pause_ms for p in inside),
        over_20ms=sum(1 for p in inside if p.pause_ms >= 20),
    )
