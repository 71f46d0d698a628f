"""Diagnostics only: the deploy gunicorn config plus a garbage-collector pause probe per worker.

``python -m bench … --gc-probe`` serves with ``-c bench/gc_probe_conf.py``: this file executes
the real config (``BENCH_BASE_CONF``, default ``gunicorn.conf.py``) into its own namespace, so
every setting and hook is the deployed one, then wraps ``post_worker_init`` to register a
``gc.callbacks`` hook that times each collection, and ``worker_exit`` to write them to
``$BENCH_GC_LOG.<pid>`` as JSON lines ``[monotonic_end, generation, pause_ms, collected]``.
Only collections of 1 ms or more are kept (plus a count of all). Results of probed runs are
tagged as such: the probe itself costs a little CPU per collection.
"""

import os

_BASE = os.environ.get("BENCH_BASE_CONF", "gunicorn.conf.py")
with open(_BASE) as _fh:
    exec(compile(_fh.read(), _BASE, "exec"))

_base_post_worker_init = globals().get("post_worker_init")
_base_worker_exit = globals().get("worker_exit")
_pauses: list[tuple[float, int, float, int]] = []
_counts = [0, 0, 0]


def post_worker_init(worker):  # wraps the deployed hook
    if _base_post_worker_init is not None:
        _base_post_worker_init(worker)
    import gc
    import time

    started = [0.0]

    def probe(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
            return
        pause_ms = (time.perf_counter() - started[0]) * 1000.0
        _counts[info["generation"]] += 1
        if pause_ms >= 1.0:
            _pauses.append((time.monotonic(), info["generation"], pause_ms, info["collected"]))

    gc.callbacks.append(probe)


def worker_exit(server, worker):  # wraps the deployed hook
    import json

    path = os.environ.get("BENCH_GC_LOG")
    if path:
        with open(f"{path}.{os.getpid()}", "w") as fh:
            fh.write(json.dumps({"counts": _counts}) + "\n")
            for row in _pauses:
                fh.write(json.dumps(row) + "\n")
    if _base_worker_exit is not None:
        _base_worker_exit(server, worker)
