"""Password hashing (argon2id), run on a small thread pool so it never blocks the gevent hub."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from gevent.threadpool import ThreadPool

T = TypeVar("T")

# OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): ~20 ms of CPU, and it releases the GIL.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_pool: ThreadPool | None = None
_pool_pid = 0
_lock = threading.Lock()
_dummy_hash: str | None = None


def configure(threads: int) -> None:
    global _pool, _pool_pid
    with _lock:
        if _pool is not None and _pool_pid == os.getpid():
            _pool.maxsize = threads  # one pool per process: a new one would strand the old threads
            return
        _pool = ThreadPool(maxsize=threads)
        _pool_pid = os.getpid()


def _run(fn: Callable[..., T], *args: object) -> T:
    """Run fn on the hashing pool; a pool made before a fork is replaced in the child."""
    if _pool is None or _pool_pid != os.getpid():
        configure(_pool.maxsize if _pool is not None else 2)
    assert _pool is not None
    return _pool.apply(fn, args)  # type: ignore[no-any-return]


def run(fn: Callable[..., T], *args: object) -> T:
    """Other CPU-bound password work (the strength estimate) on the same bounded pool."""
    return _run(fn, *args)


def hash_password(password: str) -> str:
    return _run(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown email) do the same work and fail."""
    global _dummy_hash
    if password_hash is None:
        if _dummy_hash is None:
            _dummy_hash = _run(_hasher.hash, secrets.token_urlsafe(16))  # off the hub too
        _run(_verify, _dummy_hash, password)
        return False
    return _run(_verify, password_hash, password)
