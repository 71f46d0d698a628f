"""The reply sources this app uses: the coach chosen once from config, and the safety reply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clarity_api.coach.base import Coach


@dataclass(frozen=True, slots=True)
class ReplySources:
    """What can answer a message: the configured coach, or the safety reply to a crisis."""

    coach: Coach
    safety: Coach


def make_sources(config: dict[str, Any]) -> ReplySources:
    from clarity_api.coach.safety import SafetyReply

    delay_s = config["STREAM_TOKEN_DELAY_MS"] / 1000
    return ReplySources(
        coach=make_coach(config),
        safety=SafetyReply(delay_s, config["STREAM_PING_INTERVAL_S"]),
    )


def make_coach(config: dict[str, Any]) -> Coach:
    provider = config["COACH_PROVIDER"]
    ping_interval = config["STREAM_PING_INTERVAL_S"]
    if provider == "scripted":
        from clarity_api.coach.scripted import ScriptedCoach

        return ScriptedCoach(config["STREAM_TOKEN_DELAY_MS"] / 1000, ping_interval)
    if provider == "openai":
        from clarity_api.coach.openai_coach import OpenAICoach

        return OpenAICoach(
            base_url=config["COACH_BASE_URL"],
            api_key=config["COACH_API_KEY"],
            model=config["COACH_MODEL"],
            timeout_s=config["COACH_TIMEOUT_S"],
            ping_interval_s=ping_interval,
            max_output_tokens=config["COACH_MAX_OUTPUT_TOKENS"],
            max_reply_chars=config["COACH_MAX_REPLY_CHARS"],
            max_tokens_field=config["COACH_MAX_TOKENS_FIELD"],
        )
    raise ValueError(f"COACH_PROVIDER must be 'scripted' or 'openai', not {provider!r}")
