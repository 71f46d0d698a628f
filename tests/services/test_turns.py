"""A message turn without HTTP: the step order, the safety reply, and the turn's events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from clarity_api.coach.base import PING, CoachRequest, CoachTimeout, Ending, ReplyItem, Usage
from clarity_api.coach.safety import SafetyReply
from clarity_api.models import SolveStep
from clarity_api.safety.crisis import RESOURCES, SAFETY_MESSAGE
from clarity_api.services import turns
from clarity_api.services.events import PING as PING_EVENT
from clarity_api.services.events import DoneEvent, ErrorEvent, TokenEvent
from tests.conftest import STEPS


def test_step_order_is_the_contracts() -> None:
    walked, step = [], SolveStep.RECEIVE
    while step is not None:
        walked.append(step.value)
        step = step.next()
    assert tuple(walked) == STEPS


class Source:
    """A reply source that yields `items` (raising any exception among them) and records
    whether it was closed."""

    def __init__(self, *items: Any):
        self.items = items
        self.closed = False

    def reply(self, request: CoachRequest) -> Iterator[ReplyItem]:
        try:
            for item in self.items:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self.closed = True


def plan(source: Any, step: SolveStep = SolveStep.CLARIFY) -> turns.TurnPlan:
    return turns.TurnPlan(
        session_id=uuid.uuid4(),
        step=step,
        request=CoachRequest(step=step, content="hi"),
        source=source,
        emotion=("calm", 0.6),
    )


class NoEngine:
    """Stands in for the engine where a turn must not touch the database."""

    def begin(self) -> Any:
        raise AssertionError("the database was used")


def never() -> bool:
    return False


def test_safety_reply_spells_the_message_and_keeps_the_session_where_it_is() -> None:
    items = list(SafetyReply(delay_s=0).reply(CoachRequest(step=SolveStep.OPTIONS, content="x")))
    assert "".join(item for item in items if isinstance(item, str)) == SAFETY_MESSAGE
    ending = items[-1]
    assert isinstance(ending, Ending)
    assert ending.advances is False
    assert ending.done == {
        "blocked": True,
        "reason": "CRISIS",
        "message": SAFETY_MESSAGE,
        "resources": RESOURCES,
    }


def test_a_reply_that_does_not_advance_finishes_without_the_database() -> None:
    source = SafetyReply(delay_s=0)
    events = list(turns.events(plan(source, SolveStep.OPTIONS), NoEngine(), draining=never))  # type: ignore[arg-type]
    assert all(isinstance(e, TokenEvent) for e in events[:-1])
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.data["next_step"] == "options"
    assert done.data["session_status"] == "active"
    assert done.data["message"] == "".join(e.content for e in events[:-1])  # type: ignore[union-attr]
    assert (done.data["emotion_detected"], done.data["confidence"]) == ("calm", 0.6)


def test_produce_turns_items_into_events_and_ends_with_finished() -> None:
    source = Source("Hi", "", PING, " there", Usage(3, 2))
    produced = list(turns.produce(plan(source), never))
    assert produced == [
        TokenEvent("Hi"),
        PING_EVENT,
        TokenEvent(" there"),
        turns.Finished(Usage(3, 2)),
    ]
    assert source.closed


def test_a_coach_failure_is_one_retryable_error_event_and_closes_the_source() -> None:
    source = Source("Hi", CoachTimeout(), " never")
    events = list(turns.events(plan(source), NoEngine(), draining=never))  # type: ignore[arg-type]
    assert events == [
        TokenEvent("Hi"),
        ErrorEvent("COACH_TIMEOUT", CoachTimeout.default_message, True),
    ]
    assert source.closed


def test_an_unexpected_failure_is_an_internal_error_event() -> None:
    events = list(turns.produce(plan(Source(ValueError("bug"))), never))
    assert events == [ErrorEvent("INTERNAL_ERROR", "Internal server error.", True)]


def test_draining_stops_the_reply_before_its_next_piece() -> None:
    source = Source("one", " two", " three")
    calls = iter([False, True])
    events = list(turns.events(plan(source), NoEngine(), draining=lambda: next(calls)))  # type: ignore[arg-type]
    assert events == [
        TokenEvent("one"),
        ErrorEvent("SERVER_RESTARTING", "The server is restarting; retry.", True),
    ]
    assert source.closed


def test_closing_the_events_closes_the_source_and_advances_nothing() -> None:
    source = Source("one", " two", " three")
    events = turns.events(plan(source), NoEngine(), draining=never)  # type: ignore[arg-type]
    assert next(events) == TokenEvent("one")
    events.close()  # the client went away
    assert source.closed


@pytest.mark.parametrize("step", list(SolveStep))
def test_step_next_is_none_only_after_the_last(step: SolveStep) -> None:
    assert (step.next() is None) == (step.value == STEPS[-1])
