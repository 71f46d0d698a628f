"""The language-model coach: an OpenAI-compatible Chat Completions endpoint, streamed."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Iterator

import openai
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from clarity_api.coach.base import (
    CoachError,
    CoachRequest,
    CoachUnavailable,
    ReplyItem,
    Turn,
    Usage,
)
from clarity_api.coach.prompts import system_prompt
from clarity_api.coach.pump import pump
from clarity_api.safety.redaction import redact

log = logging.getLogger(__name__)

# Reaching a provider that is up takes well under this; a longer wait means it is down.
CONNECT_TIMEOUT_S = 5.0
# The openai client's own backoff before its 1st and 2nd retry (0.5 s doubling, minus jitter).
_RETRY_BACKOFF_S = (0.5, 1.0)
# The request field that caps the reply: OpenAI's current name, or the older one that local
# servers (Ollama, LM Studio) read. Never both: OpenAI rejects a request that sets the two.
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")


class CoachReplyTooLong(CoachError):
    """The provider kept going past the character bound (it ignored the token cap)."""

    error = "COACH_REPLY_TOO_LONG"
    default_message = "The coach's reply ran too long and was stopped. Please try rephrasing."
    retryable = False  # the same message would likely run away again


def retries_within(timeout_s: float) -> int:
    """How many client retries to allow: their backoff may use at most a quarter of the budget.

    Retries ride out a blip (a restarting local server, a 502); the rest of the budget is
    for the reply itself. With a short budget none fit, and a failure is reported at once.
    """
    retries, backoff = 0, 0.0
    for delay in _RETRY_BACKOFF_S:
        backoff += delay
        if backoff > timeout_s / 4:
            break
        retries += 1
    return retries


class OpenAICoach:
    """Streams a model's reply; `timeout_s` bounds the whole wait, retries included."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        timeout_s: float,
        ping_interval_s: float = 15.0,
        max_output_tokens: int = 800,
        max_reply_chars: int = 8000,
        max_tokens_field: str = "max_tokens",
    ) -> None:
        # Named by their variables: a bad value stops start-up (make_coach runs in create_app).
        if max_tokens_field not in MAX_TOKENS_FIELDS:
            raise ValueError(
                f"COACH_MAX_TOKENS_FIELD must be max_tokens or max_completion_tokens, "
                f"not {max_tokens_field!r}"
            )
        if max_output_tokens < 1 or max_reply_chars < 1:
            raise ValueError("COACH_MAX_OUTPUT_TOKENS and COACH_MAX_REPLY_CHARS must be positive")
        self.model = model
        self.timeout_s = timeout_s
        self.ping_interval_s = ping_interval_s
        self.max_output_tokens = max_output_tokens
        self.max_reply_chars = max_reply_chars
        self.max_tokens_field = max_tokens_field
        # One client per process: it pools connections to the provider across replies.
        # Its timeouts bound each attempt; pump enforces the overall deadline on top.
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key,
            timeout=openai.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)),
            max_retries=retries_within(timeout_s),
        )

    def reply(self, request: CoachRequest) -> Generator[ReplyItem, None, None]:
        # A generator, not just an Iterator: the stream closes it when the client leaves.
        return pump(
            lambda: self._stream(request),
            ping_interval=self.ping_interval_s,
            deadline_s=self.timeout_s,
        )

    def close(self) -> None:
        """Close the pooled connections (tests, shutdown); the coach is unusable after."""
        self._client.close()

    def _cap(self, field: str) -> int | openai.Omit:
        """The token cap for the configured field; the other field is left out."""
        return self.max_output_tokens if field == self.max_tokens_field else openai.omit

    def _stream(self, request: CoachRequest) -> Iterator[ReplyItem]:
        """The provider's reply as ReplyItems; runs in pump's greenlet."""
        try:
            stream = self._client.chat.completions.create(
                model=self.model,
                messages=build_messages(request),
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=self._cap("max_tokens"),
                max_completion_tokens=self._cap("max_completion_tokens"),
            )
            with stream:  # closes the HTTP response however this generator ends
                yield from read_reply(stream, self.max_reply_chars)
        except openai.OpenAIError as error:
            # Connection, HTTP and in-stream errors, a connect timeout included. (Reads never
            # time out here: their timeout equals pump's deadline, which started earlier.)
            # Type and status only, and `from None`: the provider's text may quote the person.
            status = getattr(error, "status_code", None)
            log.warning("coach provider failed: %s status=%s", type(error).__name__, status)
            raise CoachUnavailable() from None


def build_messages(request: CoachRequest) -> list[ChatCompletionMessageParam]:
    """The step's system prompt, the earlier turns in order, then the person's message.

    Every text the person or the app supplied is redacted before it leaves the server.
    """
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": system_prompt(request.step)}
    ]
    messages.extend(_turn_message(turn) for turn in request.history)
    messages.append({"role": "user", "content": redact(request.content)})
    return messages


def _turn_message(turn: Turn) -> ChatCompletionMessageParam:
    # Anything but "assistant" goes as "user": history must never carry system instructions.
    if turn.role == "assistant":
        return {"role": "assistant", "content": redact(turn.content)}
    return {"role": "user", "content": redact(turn.content)}


def read_reply(chunks: Iterable[ChatCompletionChunk], max_chars: int) -> Iterator[ReplyItem]:
    """Text pieces as they arrive, then the usage if reported. No text at all is no reply.

    A reply that would pass `max_chars` ends with CoachReplyTooLong before the piece that
    crosses the bound, and nothing more is read. Malformed chunks surface as exceptions (bad
    JSON, missing fields); pump maps those to CoachUnavailable.
    """
    usage: Usage | None = None
    replied = 0  # characters relayed so far
    for chunk in chunks:
        text = _text(chunk)
        if text:
            replied += len(text)
            if replied > max_chars:
                log.warning("coach reply passed %d characters: stopped", max_chars)
                raise CoachReplyTooLong()
            yield text
        usage = _usage(chunk) or usage
    if not replied:
        raise CoachUnavailable()
    if usage is not None:
        yield usage


def _text(chunk: ChatCompletionChunk) -> str:
    if not chunk.choices:  # the usage chunk has none
        return ""
    content = chunk.choices[0].delta.content
    if content is None:
        return ""
    if not isinstance(content, str):  # the client does not validate types: check ours
        raise CoachUnavailable()
    return content


def _usage(chunk: ChatCompletionChunk) -> Usage | None:
    usage = chunk.usage
    if usage is None:
        return None
    # Compatible servers vary and the client does not validate: read the counts defensively.
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    if isinstance(prompt, int) and isinstance(completion, int):
        return Usage(input_tokens=prompt, output_tokens=completion)
    return None  # counts are optional: garbled ones are dropped rather than fail the reply
