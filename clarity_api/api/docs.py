"""OpenAPI helpers: every error a route answers, and its headers, for clients and fuzzers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields

from clarity_api.schemas.common import STORABLE_TEXT_PATTERN, StrictSchema
from clarity_api.schemas.solve_sessions import STREAM_EVENTS
from clarity_api.web import openapi
from clarity_api.web.openapi import BEARER as BEARER
from clarity_api.web.parsing import ClarityApi, ClarityBlueprint


def errors(blp: ClarityBlueprint, *codes: int, **notes: str) -> Callable[[Any], Any]:
    """Document these error statuses (and 503, which any route may answer) on a view.

    `notes` refine a status's description by name, e.g. `e404="SESSION_NOT_FOUND"`.
    (`blp` is not needed any more; new views use `web.openapi.errors`.)
    """
    return openapi.errors(*codes, **notes)


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
