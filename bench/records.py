"""The records a run passes around: what a client measured, what the server sampler saw.

Each record crosses a process boundary as JSON (client → orchestrator, run → results file), so
each has ``to_json()`` and ``from_json()``; field names are the JSON keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class StreamRecord:
    """One stream as the load client saw it; times are absolute ``time.monotonic()`` s."""

    index: int
    scheduled: float
    start: float | None = None
    connected: float | None = None
    headers: float | None = None
    end: float | None = None
    outcome: str = "eof"  # done | error:CODE | http_NNN | eof | timeout | conn:…
    text_ok: bool = False
    token_times: list[float] = field(default_factory=list)
    text: str | None = None  # only kept when it did not match
    event_ids: list[str] = field(default_factory=list)  # the `id:` of each token, if any
    resumed: ResumeRecord | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> StreamRecord:
        resumed = row.get("resumed")
        fields = dict(row, resumed=ResumeRecord(**resumed) if resumed else None)
        return cls(**fields)

    @property
    def done(self) -> bool:
        return self.outcome == "done"


@dataclass(slots=True)
class ResumeRecord:
    """The second half of a dropped stream: ``GET /sessions/{id}/reply`` with Last-Event-ID."""

    start: float
    last_event_id: str | None = None
    status: int = 0
    headers: float | None = None
    first_token: float | None = None  # the first token after the resume
    tokens: int = 0  # tokens received after the resume
    duplicates: int = 0  # events at or before Last-Event-ID, or seen twice


@dataclass(slots=True)
class LoginRecord:
    start: float
    latency_s: float
    status: int  # -1: timed out, 0: connection failed


@dataclass(slots=True)
class CrudRecord:
    start: float
    latency_s: float
    status: int


@dataclass(slots=True)
class GcPause:
    """One server collection of >= 1 ms, from the GC probe (bench/gc_probe_conf.py)."""

    end: float
    generation: int
    pause_ms: float
    collected: int


@dataclass(slots=True)
class PgActivity:
    """pg_stat_activity for the run's database at one moment."""

    by_state: dict[str, int]
    oldest_xact_ms: float
    queried: tuple[float, float]  # when the query ran (monotonic), to match stream phases

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def busy(self) -> int:
        """Connections in any state but idle: in a transaction or running a statement."""
        return sum(v for k, v in self.by_state.items() if k != "idle")


@dataclass(slots=True)
class ServerSample:
    """The workers' memory and fds (and PostgreSQL's connections) at one moment."""

    t: float
    rss_kb: int = 0
    pss_kb: int = 0
    worker_rss_kb: list[int] = field(default_factory=list)
    fds: int = 0
    worker_fds: list[int] = field(default_factory=list)
    pg: PgActivity | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class ClientOutput:
    """What one load-client process reports for a timed streaming phase."""

    ready_before_t0_s: float
    records: list[StreamRecord]
    logins: list[LoginRecord]
    cpu_user_s: float
    cpu_sys_s: float
    wall_s: float
    loop_lag_ms: list[float]

    @classmethod
    def from_json(cls, out: dict[str, Any]) -> ClientOutput:
        return cls(
            ready_before_t0_s=out["ready_before_t0_s"],
            records=[StreamRecord.from_json(r) for r in out["records"]],
            logins=[LoginRecord(*row) for row in out["logins"]],
            cpu_user_s=out["cpu_user_s"],
            cpu_sys_s=out["cpu_sys_s"],
            wall_s=out["wall_s"],
            loop_lag_ms=out["loop_lag_ms"],
        )

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s


@dataclass(slots=True)
class SessionRef:
    """A session opened during set-up, and which bench user (token index) owns it."""

    user: int
    id: str


@dataclass(slots=True)
class Planned:
    """One stream of a timed phase: when it starts (s after t0) and on which session."""

    offset: float
    session: SessionRef
