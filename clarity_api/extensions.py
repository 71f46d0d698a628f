"""Unbound extensions (db, migrate, jwt, limiter) and the flask-smorest Api and Blueprint."""

from __future__ import annotations

import json
from typing import Any

import flask
import flask_smorest
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import CursorResult, Executable, MetaData
from sqlalchemy.orm import DeclarativeBase
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from clarity_api.errors import InvalidJson, render_http_exception
from clarity_api.schemas.common import ErrorSchema

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects stay readable after the one commit of a request: no reload to render the answer.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
jwt = JWTManager()
limiter = Limiter(key_func=get_remote_address)


def rowcount(stmt: Executable) -> int:
    """Rows changed by a conditional UPDATE: how compare-and-set statements report success."""
    result: CursorResult[Any] = db.session.execute(stmt)  # type: ignore[assignment]
    return result.rowcount


class ClarityParser(FlaskParser):
    """Reads any body as JSON: not JSON, or not an object, is 400 INVALID_JSON."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        raw = req.get_data(cache=True)
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
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
