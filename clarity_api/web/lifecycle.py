"""Worker lifecycle: lets streams notice a graceful shutdown and end with an `error` event."""

from __future__ import annotations

import time

_drain_at: float | None = None


def start_draining(after_s: float) -> None:
    """Called on SIGTERM: streams still running `after_s` from now end with an error event."""
    global _drain_at
    _drain_at = time.monotonic() + after_s


def draining() -> bool:
    return _drain_at is not None and time.monotonic() >= _drain_at


def reset() -> None:
    global _drain_at
    _drain_at = None
