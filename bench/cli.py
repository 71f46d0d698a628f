"""The benchmark commands: burst, hold, crud, login, expire.

Each command creates a fresh database, migrates it, starts gunicorn exactly as it deploys
(``gunicorn -c gunicorn.conf.py wsgi:app``, or the bare floor app with ``--app bare``) on a
free 127.0.0.1 port, does the untimed set-up over HTTP (register users, make them pro, open
sessions), runs the timed phase from separate load-client processes (``bench.client``) while
sampling the server, stops the server, drops the database, prints a results table and appends
one JSON line to ``bench/results/<bench>.jsonl``. Every phase is bounded in time, and Ctrl-C or
a failure still stops the server and the clients.

    .venv/bin/python -m bench burst --n 1000 --over 2 --workers 2 --db postgres
    .venv/bin/python -m bench hold --n 10000 --over 20 --delay-ms 2000 --db postgres
    .venv/bin/python -m bench crud --concurrency 32 --duration 10 --workers 2
    .venv/bin/python -m bench login --live 500 --login-rate 20
    .venv/bin/python -m bench expire --live 500 --backlog 100000 --batch-size 500
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from bench import burst, crud, expire, hold, login, resume
from bench.lifecycle import Interrupted
from bench.server import machine_info
from bench.summary import Outcome, config_of, save

REDIS_DEFAULT = "redis://127.0.0.1:6379/2"
Command = Callable[[argparse.Namespace], Outcome]

# name: (help, default pacing ms, its own arguments, the command)
COMMANDS: dict[str, tuple[str, int, Callable[[argparse.ArgumentParser], None], Command]] = {
    "burst": (
        "N streams of the 12-word reply started within R s",
        50,
        burst.add_arguments,
        burst.cmd_burst,
    ),
    "hold": ("many long-lived streams open at once", 2000, hold.add_arguments, hold.cmd_hold),
    "crud": (
        "POST /sessions, GET /sessions, GET /sessions/{id}",
        50,
        crud.add_arguments,
        crud.cmd_crud,
    ),
    "login": (
        "p99 gap of live streams with and without 20 logins/s",
        250,
        login.add_arguments,
        login.cmd_login,
    ),
    "expire": (
        "p99 gap of live streams with and without `flask sessions expire`",
        250,
        expire.add_arguments,
        expire.cmd_expire,
    ),
    "resume": (
        "N streams dropped after a few tokens and resumed with Last-Event-ID",
        50,
        resume.add_arguments,
        resume.cmd_resume,
    ),
}
NEEDS_APP = ("crud", "login", "expire", "resume")


def add_server_arguments(p: argparse.ArgumentParser, delay_ms: int) -> None:
    """What is served, and how: shared by every command."""
    p.add_argument(
        "--app",
        choices=["app", "bare"],
        default="app",
        help="the real app (wsgi:app) or the bare floor (bench.bare_app)",
    )
    p.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY")
    p.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    p.add_argument("--delay-ms", type=int, default=delay_ms, help="STREAM_TOKEN_DELAY_MS")
    p.add_argument("--users", type=int, default=4, help="pro users sharing the sessions")
    p.add_argument("--client-procs", type=int, default=1, help="load-client processes")
    p.add_argument("--sample-interval", type=float, default=0.5, help="server sampling, s")
    p.add_argument(
        "--server-env", action="append", metavar="K=V", help="extra environment for gunicorn"
    )
    p.add_argument(
        "--checkout",
        action="append",
        metavar="DIR",
        help="serve the app from this checkout (burst: repeatable, side by side in one run)",
    )
    p.add_argument(
        "--redis",
        nargs="?",
        const=REDIS_DEFAULT,
        default="",
        metavar="URL",
        help=f"serve with REDIS_URL (default {REDIS_DEFAULT}): replies kept in Redis",
    )


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """A shared machine, diagnostics, and what is kept: shared by every command."""
    flag = "store_true"
    p.add_argument("--quiet-wait", type=float, default=60.0, help="wait up to S s for quiet")
    p.add_argument(
        "--quiet-cores", type=float, default=0.2, help="quiet: other jobs use fewer cores"
    )
    p.add_argument("--gc-probe", action=flag, help="diagnostics: log server GC pauses")
    p.add_argument("--profile", action=flag, help="diagnostics: py-spy the workers")
    p.add_argument("--save-raw", action=flag, help="every stream record to bench/results/raw/")
    p.add_argument(
        "--max-foreign", type=float, default=0.3, help="other jobs above this: a noisy run"
    )
    p.add_argument("--retries", type=int, default=0, help="run a noisy run again, N times")
    p.add_argument("--tag", default="", help="a label stored with the result")
    p.add_argument("--keep-db", action=flag, help="do not drop the database")
    p.add_argument("--no-save", action=flag, help="do not append to results/")


def build_parser() -> argparse.ArgumentParser:
    doc = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench", description=doc)
    sub = parser.add_subparsers(dest="bench", required=True)
    for name, (help_text, delay_ms, add_own, command) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        add_server_arguments(p, delay_ms)
        add_run_arguments(p)
        add_own(p)
        p.set_defaults(func=command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.app == "bare" and args.bench in NEEDS_APP:
        raise SystemExit(f"{args.bench} needs the real app")
    for attempt in range(1 + max(0, args.retries)):
        started = time.time()
        try:
            outcome = args.func(args)
        except (KeyboardInterrupt, Interrupted):
            print("interrupted: server and clients stopped", file=sys.stderr)
            return 130
        noisy = outcome.foreign_cores > args.max_foreign
        save(args.bench, result_line(args, outcome, attempt, started, noisy), args)
        if not noisy:
            break
        again = "running it again" if attempt < args.retries else "kept, marked noisy"
        print(
            f"other jobs took {outcome.foreign_cores:.2f} cores (> {args.max_foreign}) "
            f"during the run: {again}",
            flush=True,
        )
    return 0


def result_line(
    args: argparse.Namespace, outcome: Outcome, attempt: int, started: float, noisy: bool
) -> dict[str, object]:
    """The JSON line appended to bench/results/<bench>.jsonl."""
    return {
        "bench": args.bench,
        "run_id": outcome.run_id,
        "tag": args.tag,
        "config": config_of(args, args.bench),
        "machine": machine_info(),
        "code": outcome.code,
        "wall_s": round(time.time() - started, 1),
        "attempt": attempt,
        "foreign_cores_max": round(outcome.foreign_cores, 2),
        "noisy": noisy,
        "summary": outcome.summary,
    }
