"""Clarity API benchmark suite: burst, hold, crud and login-burst runs against gunicorn + gevent.

Run ``python -m bench --help`` from the repository root; docs/benchmarks.md explains each run.
"""
