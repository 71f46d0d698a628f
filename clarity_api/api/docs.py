"""OpenAPI helpers: every error a route answers, and its headers, for clients and fuzzers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields

from clarity_api.schemas.common import STORABLE_TEXT_PATTERN, ErrorSchema, StrictSchema
from clarity_api.schemas.solve_sessions import STREAM_EVENTS
from clarity_api.web.parsing import ClarityApi, ClarityBlueprint

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]

DESCRIPTIONS = {
    400: "INVALID_JSON (the body is not a JSON object) or a rule named by the error code",
    401: "INVALID_TOKEN, TOKEN_EXPIRED or TOKEN_REVOKED",
    403: "Forbidden by a rule (see the error code)",
    404: "Not found",
    409: "Conflict (see the error code)",
    413: "PAYLOAD_TOO_LARGE: the body is over 512 KiB",
    422: "VALIDATION_ERROR: details name each bad field (unknown ones, and text holding NUL "
    "or an unpaired surrogate, included)",
    429: "RATE_LIMITED; Retry-After says how many seconds to wait",
    503: "SERVICE_UNAVAILABLE: the database is unreachable",
}

HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme to use",
            "required": True,
            "schema": {"type": "string", "enum": ["Bearer"]},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds until the limit resets",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}


def errors(blp: ClarityBlueprint, *codes: int, **notes: str) -> Callable[[Any], Any]:
    """Document these error statuses (and 503, which any route may answer) on a view.

    `notes` refine a status's description by name, e.g. `e404="SESSION_NOT_FOUND"`.
    """

    def decorate(view: Any) -> Any:
        for code in sorted({*codes, 503}):
            description = notes.get(f"e{code}") or DESCRIPTIONS[code]
            view = blp.alt_response(
                code, schema=ErrorSchema, description=description, headers=HEADERS.get(code)
            )(view)
        return view

    return decorate


def id_parameter(name: str, what: str, errors: str) -> dict[str, Any]:
    """A UUID path id. Any other string is answered like an unknown id, not by routing."""
    return {
        "in": "path",
        "name": name,
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
        "description": f"The {what}'s id. A malformed, unknown or someone else's id is {errors}.",
    }


def component_ref(schema: type[Schema]) -> str:
    """Where `register_components` puts a schema that only hand-written docs refer to."""
    return f"#/components/schemas/{schema.__name__.removesuffix('Schema')}"


def register_components(api: ClarityApi) -> None:
    """Schemas that no decorator names, only hand-written docs (the stream's event data), and
    the text rule every input string follows."""
    api.ma_plugin.converter.add_attribute_function(storable_text)
    for schema in STREAM_EVENTS.values():
        api.spec.components.schema(schema.__name__.removesuffix("Schema"), schema=schema)


def storable_text(converter: Any, field: fields.Field, ret: dict[str, Any], **kwargs: Any) -> Any:
    """Input text holds no NUL (StrictSchema answers 422), unless a field says more itself."""
    if (
        isinstance(field, fields.String)
        and isinstance(field.parent, StrictSchema)
        and "pattern" not in ret
        and "enum" not in ret
    ):
        return {"pattern": STORABLE_TEXT_PATTERN}
    return {}


def links(path: str, methods: dict[str, str], parameter: str, value: str) -> dict[str, Any]:
    """OpenAPI links: where an id in this response can be used next (`methods`: name → method)."""
    pointer = "#/paths/" + path.replace("~", "~0").replace("/", "~1")
    return {
        name: {"operationRef": f"{pointer}/{method}", "parameters": {parameter: value}}
        for name, method in methods.items()
    }
