"""The request parser (any body read as a JSON object) and the flask-smorest Api and Blueprint."""

from __future__ import annotations

import json
from typing import Any

import flask
import flask_smorest
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from clarity_api.errors import InvalidJson
from clarity_api.schemas.common import ErrorSchema
from clarity_api.web.errors import render_http_exception


class ClarityParser(FlaskParser):
    """Reads any body as JSON: not JSON, or not an object, is 400 INVALID_JSON."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        raw = req.get_data(cache=True)
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            # RecursionError: nested thousands deep (json.loads recurses once per level).
            raise InvalidJson() from None
        if not isinstance(data, dict):
            raise InvalidJson()
        return data


class ClarityBlueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ClarityParser()


class ClarityApi(flask_smorest.Api):
    """flask-smorest's Api, rendering its HTTP errors in the API's one error body."""

    ERROR_SCHEMA = ErrorSchema
    # No catch-all `default` response: each view documents the statuses it can answer, so a
    # status it does not document is a finding (the fuzz test checks it).
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error: HTTPException) -> Any:
        return render_http_exception(error)
