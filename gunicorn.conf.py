"""gunicorn settings for every way we serve: Procfile, `make run`, benchmarks.

Import-light on purpose: the gevent worker monkey-patches in init_process, after this file
is read and after fork, and our code never patches by hand.
"""

import logging
import os
import resource
import shutil
import signal
import tempfile

from gunicorn.glogging import Logger


def _int(name, default, minimum=0):
    """Strict, as clarity_api/config.py reads the app's settings: a typo stops start-up."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise SystemExit(
            f"invalid configuration: {name}: {raw!r} is not a whole number >= {minimum}"
        )
    return value


def _log_level():
    raw = os.environ.get("LOG_LEVEL", "").strip().lower() or "info"
    if raw not in {"debug", "info", "warning", "error", "critical"}:
        raise SystemExit(
            f"invalid configuration: LOG_LEVEL: {raw!r} is not "
            "debug, info, warning, error or critical"
        )
    return raw


def _gc_thresholds():
    raw = os.environ.get("GC_THRESHOLDS", "").strip() or "7000,20,20"
    parts = raw.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise SystemExit(
            f"invalid configuration: GC_THRESHOLDS: {raw!r} is not three whole numbers "
            "such as 7000,20,20"
        )
    return tuple(int(p) for p in parts)


bind = f"0.0.0.0:{_int('PORT', 8000, minimum=1)}"
workers = _int("WEB_CONCURRENCY", 2, minimum=1)
worker_class = "gevent"
# Open streams per worker (one greenlet each); streams hold no DB connection, so this is
# bounded by memory and file descriptors, not by the pool.
worker_connections = _int("WORKER_CONNECTIONS", 10000, minimum=1)
# Room for bursts of new connections while workers are busy accepting.
backlog = 4096
# A heartbeat for async workers, not a request limit: catches a hub blocked for 30 s.
timeout = 30
# Below Heroku's 30 s SIGTERM→SIGKILL window; live streams get this long to finish.
graceful_timeout = _int("GRACEFUL_TIMEOUT", 20)
# Seconds a finished connection may idle waiting for the next request.
keepalive = 5
# Many servers start side by side in tests and benchmarks; we never use the control socket.
control_socket_disable = True
# Which X-Forwarded-* entries to believe is the app's call alone (TRUSTED_PROXIES, ProxyFix):
# gunicorn would otherwise take X-Forwarded-Proto from any local peer as https.
forwarded_allow_ips = ""
loglevel = _log_level()


def _json_formatter_class():
    """The app's JSON formatter (clarity_api/web/logformat.py), loaded by its path: importing
    it through the clarity_api package would import the whole app before the gevent
    worker's monkey-patching."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent / "clarity_api" / "web" / "logformat.py"
    spec = importlib.util.spec_from_file_location("clarity_logformat", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.JsonFormatter


class JsonLogger(Logger):
    """gunicorn's logger, its access lines written as structured fields: the real client
    address (REMOTE_ADDR, after ProxyFix) and the request id the app answered with. No path
    (it holds ids; the app's own line has the route template), no header but X-Request-ID."""

    def access(self, resp, req, environ, request_time):
        status = str(resp.status).split(None, 1)[0]
        request_id = next((v for k, v in resp.headers if k.lower() == "x-request-id"), None)
        self.access_log.info(
            "access",
            extra={
                "method": environ.get("REQUEST_METHOD"),
                "status": int(status) if status.isdigit() else status,
                "duration_ms": round(request_time.total_seconds() * 1000, 2),
                "bytes": getattr(resp, "sent", None),
                "client": environ.get("REMOTE_ADDR"),
                "request_id": request_id,
            },
        )


# gunicorn's error and access logs, and the app's own (the root logger), as one JSON object
# per line on stderr. Python warnings go the same way instead of as plain text.
logger_class = JsonLogger
accesslog = "-"
errorlog = "-"
logging.captureWarnings(True)
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": _json_formatter_class()}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": loglevel.upper(), "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
}
# Request line and headers are small; refuse anything bigger early.
limit_request_line = 8190
limit_request_fields = 100
# gen0, gen1, gen2 collection thresholds per worker (CPython's default is 700, 10, 10).
GC_THRESHOLDS = _gc_thresholds()

# Prometheus multiprocess mode: each worker writes its metrics to files in this directory and
# GET /metrics adds every worker's up. Set here, before any worker imports prometheus_client.
_own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="clarity-metrics-")


def on_starting(server):
    # Files left by an earlier run would be added to this run's counts: start empty.
    metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(metrics_dir, exist_ok=True)
    for name in os.listdir(metrics_dir):
        if name.endswith(".db"):  # only prometheus_client's files, whatever the dir holds
            os.remove(os.path.join(metrics_dir, name))


def child_exit(server, worker):
    # A dead worker's counters stay in the totals; its live-stream gauge must not.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_fork(server, worker):
    # One descriptor per open stream: lift the soft limit to the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def post_worker_init(worker):
    # Thousands of open streams mean many live objects, and a full garbage collection walks
    # them all while every stream on the worker waits. Freeze what the app loaded (it lives
    # for good) and collect the young generation less often.
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

    # On SIGTERM, streams that would outlive the graceful timeout end with a retryable
    # `error` event a few seconds before it, instead of being cut mid-frame.
    from clarity_api.web import lifecycle

    drain_after = max(0.0, graceful_timeout - 3.0)

    def handle_term(sig, frame):
        lifecycle.start_draining(drain_after)
        worker.handle_exit(sig, frame)

    signal.signal(signal.SIGTERM, handle_term)


def worker_exit(server, worker):
    # Replies still being produced for clients that went away (or resumed elsewhere): let
    # them end within the graceful timeout, end the rest with a retryable error, and copy
    # every kept reply to Redis so that another instance can serve the resume. Mail queued
    # after a response (a password reset code) is sent within the same bound.
    from clarity_api.web import lifecycle

    lifecycle.finish_in_flight(graceful_timeout - 2.0)
