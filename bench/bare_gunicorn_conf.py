"""gunicorn settings for the bare floor app, in the deploy shape: gevent, PORT, WEB_CONCURRENCY.

``worker_connections`` (greenlets, i.e. open streams, per worker) defaults to 10,000 here so a
hold run is not capped by gunicorn's default of 1,000; ``BENCH_WORKER_CONNECTIONS`` overrides it.
"""

import os

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gevent"
worker_connections = int(os.environ.get("BENCH_WORKER_CONNECTIONS", "10000"))
backlog = 4096
timeout = 30
graceful_timeout = 20
keepalive = 5
control_socket_disable = True
accesslog = None
loglevel = "warning"
