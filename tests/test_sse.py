"""The SSE wire format: each event's bytes, exactly."""

from __future__ import annotations

from clarity_api.services.events import PING, DoneEvent, ErrorEvent, TokenEvent
from clarity_api.streaming import encode, sse_body


def test_token_is_one_compact_json_line_with_text_kept_as_is() -> None:
    assert encode(TokenEvent(' ¿qué\n"tal"')) == (
        b'event: token\ndata: {"content":" \xc2\xbfqu\xc3\xa9\\n\\"tal\\""}\n\n'
    )


def test_ping_is_a_comment() -> None:
    assert encode(PING) == b": ping\n\n"


def test_done_and_error_carry_their_data() -> None:
    assert encode(DoneEvent({"next_step": None, "confidence": 0.5})) == (
        b'event: done\ndata: {"next_step":null,"confidence":0.5}\n\n'
    )
    assert encode(ErrorEvent("STEP_MISMATCH", "Another one.", False)) == (
        b'event: error\ndata: {"error":"STEP_MISMATCH","message":"Another one.",'
        b'"retryable":false}\n\n'
    )


def test_closing_the_body_closes_the_events() -> None:
    closed = []

    def events():  # type: ignore[no-untyped-def]
        try:
            yield TokenEvent("a")
            yield TokenEvent("b")
        finally:
            closed.append(True)

    body = sse_body(events())
    assert next(body) == b'event: token\ndata: {"content":"a"}\n\n'
    body.close()
    assert closed == [True]
