"""Worker lifecycle: lets streams notice a graceful shutdown and end with an `error` event."""

from __future__ import annotations

import time

_drain_at: float | None = None
_term_at: float | None = None


def start_draining(after_s: float) -> None:
    """Called on SIGTERM: streams still running `after_s` from now end with an error event."""
    global _drain_at, _term_at
    _term_at = time.monotonic()
    _drain_at = _term_at + after_s


def finish_in_flight(within_s: float) -> None:
    """The worker is exiting: kept replies end, and mail sent after its response (a reset
    code) goes out, within `within_s` of SIGTERM (or of now)."""
    from clarity_api.services import mail, reply_turns

    deadline = (_term_at if _term_at is not None else time.monotonic()) + within_s
    reply_turns.shutdown_all(max(0.0, deadline - time.monotonic()))
    mail.wait_for_pending(timeout=max(0.0, deadline - time.monotonic()))


def draining() -> bool:
    return _drain_at is not None and time.monotonic() >= _drain_at


def reset() -> None:
    global _drain_at, _term_at
    _drain_at = _term_at = None
