"""/sessions: open, list, read, close and delete Solve sessions; stream the coach's reply."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, request
from flask.views import MethodView

from clarity_api.api.docs import component_ref, id_parameter, links
from clarity_api.extensions import db
from clarity_api.schemas.solve_sessions import (
    STREAM_EVENTS,
    MessageRequestSchema,
    SessionCreatedSchema,
    SessionCreateSchema,
    SessionListSchema,
    SessionQuerySchema,
    SessionSchema,
    SessionUpdateSchema,
    stream_event_schema,
)
from clarity_api.services import devices, solving, turns
from clarity_api.streaming import sse_bytes
from clarity_api.web import lifecycle
from clarity_api.web.auth import (
    signed_in,
    signed_in_login_id,
    signed_in_user,
    signed_in_user_id,
)
from clarity_api.web.openapi import errors
from clarity_api.web.parsing import ClarityBlueprint

blp = ClarityBlueprint(
    "solve_sessions", __name__, url_prefix="/sessions", description="Solve sessions"
)
_FINGERPRINT = {
    "in": "header",
    "name": "X-Device-Fingerprint",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": (
        "A device registered to this account. Missing: 400 MISSING_DEVICE_FINGERPRINT; "
        "not a device of this account: 403 DEVICE_NOT_FOUND."
    ),
}
_SESSION_ID = id_parameter("session_id", "session", "404 SESSION_NOT_FOUND")
_ITEM = {"GetSession": "get", "UpdateSession": "patch", "DeleteSession": "delete"}
_MESSAGES = {"SendMessage": "post"}


def _session_links(value: str) -> dict[str, Any]:
    return {
        **links("/sessions/{session_id}", _ITEM, "session_id", value),
        **links("/sessions/{session_id}/messages", _MESSAGES, "session_id", value),
    }


_LOCATION = {
    "Location": {
        "description": "The new session's address, /sessions/{id}",
        "required": True,
        "schema": {"type": "string"},
    }
}


@blp.route("")
class SolveSessions(MethodView):
    @signed_in
    @blp.arguments(SessionCreateSchema, required=False)
    @blp.response(201, SessionCreatedSchema, headers=_LOCATION)
    @errors(
        400,
        403,
        413,
        422,
        e400="MISSING_DEVICE_FINGERPRINT, or INVALID_JSON",
        e403="DEVICE_NOT_FOUND (the fingerprint is not this account's), or QUOTA_EXCEEDED "
        "with the usage object as details",
    )
    @blp.doc(
        parameters=[_FINGERPRINT],
        responses={201: {"links": _session_links("$response.body#/session_id")}},
    )
    def post(self, _body: dict[str, Any]) -> Any:
        """Open a Solve session on this device; counts against the tier's quota.

        The body is `{}` or none.
        """
        fingerprint = request.headers.get("X-Device-Fingerprint")
        device = devices.require_current(signed_in_user_id(), fingerprint)
        solve_session, usage = solving.open_session(signed_in_user(), device)
        db.session.commit()
        body = {"session": solve_session, "usage": usage}
        return body, 201, {"Location": f"/sessions/{solve_session.id}"}

    @signed_in
    @blp.arguments(SessionQuerySchema, location="query")
    @blp.response(200, SessionListSchema)
    @errors(422, e422="VALIDATION_ERROR: a bad or unknown query parameter")
    @blp.doc(
        responses={200: {"links": _session_links("$response.body#/sessions/0/id")}},
    )
    def get(self, query: dict[str, Any]) -> Any:
        """This account's sessions, newest first."""
        items, total = solving.list_sessions(
            signed_in_user_id(), query["limit"], query["offset"], query["status"]
        )
        return {
            "sessions": items,
            "total": total,
            "limit": query["limit"],
            "offset": query["offset"],
        }


@blp.route("/<session_id>", parameters=[_SESSION_ID])
class SolveSessionItem(MethodView):
    @signed_in
    @blp.response(200, SessionSchema)
    @errors(404, e404="SESSION_NOT_FOUND")
    def get(self, session_id: str) -> Any:
        """One session. Unknown, malformed or someone else's id: 404 SESSION_NOT_FOUND."""
        return solving.get_session(signed_in_user_id(), session_id)

    @signed_in
    @blp.arguments(SessionUpdateSchema)
    @blp.response(200, SessionSchema)
    @errors(
        400,
        404,
        409,
        413,
        422,
        e404="SESSION_NOT_FOUND",
        e409="INVALID_TRANSITION: the session is not active",
    )
    def patch(self, body: dict[str, Any], session_id: str) -> Any:
        """Close an active session, commit to a first step, set a reminder or the locale.

        `status` changes only an active session (else 409 INVALID_TRANSITION, and nothing of
        the request changes); `reminder_time` and `locale` may be set at any status;
        `first_step_action` is checked and never stored.
        """
        solve_session = solving.update_session(signed_in_user_id(), session_id, body)
        db.session.commit()
        return solve_session

    @signed_in
    @blp.response(204)
    @errors(404, e404="SESSION_NOT_FOUND")
    def delete(self, session_id: str) -> Any:
        """Delete a session (usage already counted stays counted)."""
        solving.delete_session(signed_in_user_id(), session_id)
        db.session.commit()
        return None


_STREAM_DOC = {
    "description": (
        'Server-Sent Events: `event: token` with data `{"content"}` per piece of the reply, '
        "then exactly one `event: done` or `event: error` (a failure after the stream began: "
        "the session is unchanged). Lines starting with `:` are comments (keep-alive "
        "`: ping`). The schema is that of one event; `data` is JSON text."
    ),
    "headers": {
        "Cache-Control": {"required": True, "schema": {"type": "string", "enum": ["no-cache"]}},
        "X-Accel-Buffering": {"required": True, "schema": {"type": "string", "enum": ["no"]}},
    },
    "content": {
        "text/event-stream": {
            "schema": stream_event_schema(
                {name: component_ref(schema) for name, schema in STREAM_EVENTS.items()}
            )
        }
    },
}


@blp.route("/<session_id>/messages", methods=["POST"], parameters=[_SESSION_ID])
@signed_in
@blp.arguments(MessageRequestSchema)
@blp.response(200, content_type="text/event-stream")  # described by _STREAM_DOC
@errors(
    400,
    404,
    409,
    413,
    422,
    e400="SESSION_COMPLETED (the session is not active), or INVALID_JSON",
    e404="SESSION_NOT_FOUND",
    e409="STEP_MISMATCH: `step` is not the session's current step; details.current_step; "
    "or REPLY_IN_PROGRESS: a reply for this session is still being produced; "
    "details.reply_id (resume it with GET /sessions/{session_id}/reply)",
)
@blp.doc(responses={200: _STREAM_DOC})
def post_message(message: dict[str, Any], session_id: str) -> Any:
    """Send a message; the coach's reply streams back as Server-Sent Events."""
    kept = current_app.extensions["clarity_kept_replies"]
    turn = turns.begin(
        signed_in_user_id(),
        session_id,
        message["content"],
        message["step"],
        message["history"],
        current_app.extensions["clarity_replies"],
        lease_s=kept.lease_s,
    )
    db.session.commit()
    db.session.remove()  # no connection is held while the reply is paced out
    body = kept.stream(turn, signed_in_login_id(), lifecycle.draining, g.get("metrics_started"))
    return sse_bytes(body, str(turn.reply_id))


_LAST_EVENT_ID = {
    "in": "header",
    "name": "Last-Event-ID",
    "required": False,
    "schema": {"type": "string", "maxLength": 100},
    "description": "`<reply_id>:<n>`: the last event the client has; the reply resumes after it.",
}


@blp.route("/<session_id>/reply", methods=["GET"], parameters=[_SESSION_ID, _LAST_EVENT_ID])
@signed_in
@blp.response(200, content_type="text/event-stream")  # described by _STREAM_DOC
@errors(
    404,
    e404="SESSION_NOT_FOUND, or REPLY_NOT_FOUND: no reply kept, or a Last-Event-ID "
    "that does not name the session's latest reply",
)
@blp.doc(
    responses={
        200: _STREAM_DOC,
        204: {"description": "Last-Event-ID is at or past the reply's last event"},
    }
)
def get_reply(session_id: str) -> Any:
    """Resume the session's latest reply after Last-Event-ID, then follow it live to its end."""
    kept = current_app.extensions["clarity_kept_replies"]
    reply_id, body = kept.resume(
        signed_in_user_id(), session_id, request.headers.get("Last-Event-ID")
    )
    db.session.commit()
    db.session.remove()  # nothing is held while the reply is followed
    if body is None:
        return Response(status=204, headers={"X-Reply-Id": reply_id})
    return sse_bytes(body, reply_id)
