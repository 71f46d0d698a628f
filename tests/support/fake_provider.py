"""A fake OpenAI-compatible provider: a loopback HTTP server streaming Chat Completions."""

from __future__ import annotations

import errno
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import pytest
from gevent.event import Event
from gevent.pywsgi import WSGIServer

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Behaviour:
    """How the provider answers. The defaults: a three-piece reply, then usage."""

    pieces: Sequence[str] = ("Hello", " there", "!")
    usage: tuple[int, int] | None = (12, 3)  # (prompt_tokens, completion_tokens)
    status: int = 200  # anything else: a JSON error body, like the real API
    status_count: int | None = None  # requests answered with `status` first; None: all
    stall_before_s: float = 0.0  # silence before any byte, headers included
    stall_mid_s: float = 0.0  # silence after the first piece
    piece_delay_s: float = 0.0  # pause before every piece after the first
    drop_after: int | None = None  # cut the connection after this many pieces
    malformed: str | None = None  # a raw `data:` payload sent after the first piece
    hang: bool = False  # accept the request and never answer


class FakeProvider:
    """Records every request body; answers as told by `behave(...)`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.completed = 0  # streams sent to the end
        self.client_gone = 0  # streams the client closed before the end
        self._behaviour = Behaviour()
        self._errors_sent = 0
        self._released = Event()  # set on close: every stall and hang ends at once
        self._server = WSGIServer(("127.0.0.1", 0), self._app, log=None, error_log=None)
        self._server.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_port}/v1"

    def behave(self, **options: Any) -> None:
        """Answer the next requests this way (see Behaviour for the options)."""
        self._behaviour = Behaviour(**options)
        self._errors_sent = 0

    def close(self) -> None:
        self._released.set()
        self._server.stop(timeout=1)

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if (environ["REQUEST_METHOD"], environ["PATH_INFO"]) != ("POST", "/v1/chat/completions"):
            return _error(start_response, 404)
        body = json.loads(environ["wsgi.input"].read())
        self.requests.append(body)
        behaviour = self._behaviour
        if behaviour.status != 200 and self._still_failing(behaviour):
            self._errors_sent += 1
            return _error(start_response, behaviour.status)
        return self._stream(body, behaviour, start_response)

    def _still_failing(self, behaviour: Behaviour) -> bool:
        return behaviour.status_count is None or self._errors_sent < behaviour.status_count

    def _stream(
        self, body: dict[str, Any], behaviour: Behaviour, start_response: StartResponse
    ) -> Iterator[bytes]:
        # A generator: pywsgi sends the headers with its first chunk, and closes it
        # (GeneratorExit) when a write fails because the client went away.
        try:
            self._released.wait(behaviour.stall_before_s)
            if behaviour.hang:
                self._released.wait()
                raise _connection_reset()
            start_response("200 OK", [("Content-Type", "text/event-stream")])
            yield from self._pieces(body, behaviour)
            yield from _ending(body, behaviour)
            self.completed += 1
        except GeneratorExit:
            self.client_gone += 1
            raise

    def _pieces(self, body: dict[str, Any], behaviour: Behaviour) -> Iterator[bytes]:
        model = body.get("model", "fake-model")
        yield _event(_chunk(model, [_choice({"role": "assistant", "content": ""})], body))
        for index, piece in enumerate(behaviour.pieces):
            if index == behaviour.drop_after:
                raise _connection_reset()
            if index:
                stall = behaviour.stall_mid_s if index == 1 else 0.0
                self._released.wait(behaviour.piece_delay_s + stall)
            yield _event(_chunk(model, [_choice({"content": piece})], body))
            if index == 0 and behaviour.malformed is not None:
                yield f"data: {behaviour.malformed}\n\n".encode()


def _ending(body: dict[str, Any], behaviour: Behaviour) -> Iterator[bytes]:
    """The finish chunk, the usage chunk when asked for, then [DONE]."""
    model = body.get("model", "fake-model")
    yield _event(_chunk(model, [_choice({}, finish_reason="stop")], body))
    if behaviour.usage is not None and body.get("stream_options", {}).get("include_usage"):
        prompt, completion = behaviour.usage
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        yield _event(_chunk(model, [], body, usage=usage))
    yield b"data: [DONE]\n\n"


def _chunk(
    model: str,
    choices: list[dict[str, Any]],
    body: dict[str, Any],
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1766397600,
        "model": model,
        "choices": choices,
    }
    if body.get("stream_options", {}).get("include_usage"):
        chunk["usage"] = usage  # with include_usage, every chunk carries the key
    return chunk


def _choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def _event(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


def _error(start_response: StartResponse, status: int) -> list[bytes]:
    phrase = HTTPStatus(status).phrase
    body = {"error": {"message": phrase, "type": "server_error", "param": None, "code": None}}
    start_response(f"{status} {phrase}", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def _connection_reset() -> ConnectionResetError:
    # pywsgi closes the connection quietly on ECONNRESET: the client sees a cut-off body.
    return ConnectionResetError(errno.ECONNRESET, "fake provider dropped the connection")


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """A running fake provider, stopped after the test."""
    provider = FakeProvider()
    try:
        yield provider
    finally:
        provider.close()
