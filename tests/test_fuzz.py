"""Fuzz the API from its own OpenAPI description with schemathesis, against gunicorn + gevent.

The live test starts the server as deployed, signs a person up, opens a session (so there are
real ids to find), and runs `schemathesis run` on `/openapi.json` as a subprocess: seeded, with
a bounded number of examples per operation. It passes when no response is a 5xx, every status,
content type, header and body matches the description, and every 4xx/5xx body is the API's
one error envelope (the `error_envelope` check below, loaded by schemathesis from this module).
The other tests keep the description complete enough for that to bite, and pin what the
fuzzer found.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

try:  # This module is also schemathesis's hooks module, imported by the subprocess.
    import schemathesis
except ImportError:  # pragma: no cover - schemathesis is a pinned dev dependency
    schemathesis = None

from tests.support.live import ROOT, serve

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
SEED = 20251222
EXAMPLES = 300  # per operation, in the fuzzing phase
STREAM_EXAMPLES = 150  # each one that finds a real session reads a whole stream
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "error_envelope",
    # Also cheap and exact here: auth is enforced, a deleted session is gone and a created one
    # is there, an undocumented method is a 405 with Allow.
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
    "unsupported_method",
    "allow_header_conformance",
]
# Not the documented example password: the examples phase must not guess this one (DELETE
# /auth/me with it would erase the account the run signs in with).
EMAIL = "fuzz@example.com"
PASSWORD = "Fuzz-0nly-Passw0rd"
FINGERPRINT = "fuzz-phone"
ENVELOPE_KEYS = {"error", "message", "details"}


def envelope_problem(method: str, path: str, status: int, content_type: str, body: bytes) -> str:
    """Why this 4xx/5xx answer is not `{"error": str, "message": str, "details"?: object}`."""
    if status < 400:
        return ""
    if method == "GET" and path.rstrip("/") == "/health" and status == 503:
        return ""  # API.md: /health answers its own body, {"status", "database"}
    if content_type.split(";")[0].strip().lower() != "application/json":
        return f"content type {content_type!r} is not application/json"
    try:
        data = json.loads(body)
    except ValueError:
        return "body is not JSON"
    if not isinstance(data, dict):
        return "body is not a JSON object"
    extra = set(data) - ENVELOPE_KEYS
    if extra:
        return f"unexpected keys {sorted(extra)}"
    if not isinstance(data.get("error"), str) or not data["error"]:
        return "`error` is not a non-empty string"
    if not isinstance(data.get("message"), str) or not data["message"]:
        return "`message` is not a non-empty string"
    if "details" in data and not isinstance(data["details"], dict):
        return "`details` is not an object"
    return ""


def toml_config(examples: int, stream_examples: int, login: dict[str, str] | None) -> str:
    """schemathesis.toml: seed, bounds and, for a signed-in run, how to sign in again."""
    lines = [
        f"seed = {SEED}",
        # Each run starts clean: no examples or crashes remembered from an earlier one.
        "[cache]",
        "enabled = false",
        "[generation]",
        f"max-examples = {examples}",
        'database = "none"',
        "[auth]",
        "auto-signup = false",
    ]
    if login:
        # Fuzzed logouts and device deletions end the login; on a 401 schemathesis signs in
        # again with these and replays the request, so the rest of the run stays signed in.
        payload = ", ".join(f"{key} = {json.dumps(value)}" for key, value in login.items())
        lines += [
            "[auth.dynamic.openapi.bearerAuth]",
            'path = "/auth/login"',
            f"payload = {{ {payload} }}",
            'extract_selector = "/access_token"',
        ]
    lines += [
        "[[operations]]",
        'include-path = "/sessions/{session_id}/messages"',
        f"generation.max-examples = {stream_examples}",
        # Drawing ids from earlier responses, schemathesis runs out of new DELETE cases after
        # a dozen; there, fuzz with generated ids (the stateful phase deletes real ones).
        "[[operations]]",
        'include-method = "DELETE"',
        "phases.fuzzing.extra-data-sources.responses = false",
    ]
    return "\n".join(lines) + "\n"


def run_schemathesis(
    base_url: str, workdir: Path, name: str, config: str, *args: str
) -> dict[str, Any]:
    """`schemathesis run` on the served description; its JSON report, with its output."""
    config_path = workdir / f"{name}.toml"
    config_path.write_text(config)
    report = workdir / f"{name}-report.json"
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(config_path),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--request-timeout",
        "30",
        "--no-color",
        *args,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.test_fuzz", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=420, check=False
    )
    (workdir / f"{name}.out").write_text(result.stdout + result.stderr)
    data: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {}
    data["_output"] = result.stdout + result.stderr
    data["_exit_code"] = result.returncode
    return data


def served(log: str) -> list[dict[str, Any]]:
    """The access-log entries (one per request) and any error records in the server's log."""
    entries = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def per_operation(entries: list[dict[str, Any]]) -> Counter[str]:
    """Requests served per documented operation, as `METHOD /path/{param}`."""
    counts: Counter[str] = Counter()
    for entry in entries:
        route = entry.get("route")
        if entry.get("msg") != "request" or not route or route.startswith("<"):
            continue
        if entry["method"] in {"OPTIONS", "HEAD"} or route == "/openapi.json":
            continue
        path = re.sub(r"<([^>]+)>", r"{\1}", route)
        counts[f"{entry['method']} {path}"] += 1
    return counts


def server_failures(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """5xx answers, and errors logged anywhere (a stream that fails after its 200 logs one)."""
    return [
        e
        for e in entries
        if (e.get("msg") == "request" and int(e.get("status", 0)) >= 500)
        or e.get("level") in {"error", "critical"}
    ]


def summarize(title: str, report: dict[str, Any], counts: Counter[str], seconds: float) -> str:
    lines = [f"{title}: {seconds:.0f} s, schemathesis generated {report.get('test_cases', {})}"]
    lines += [f"  {count:5d}  {operation}" for operation, count in sorted(counts.items())]
    lines.append(f"  {sum(counts.values()):5d}  requests served in total")
    return "\n".join(lines)


def assert_clean(report: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    """No failed check, no schemathesis error, and no 5xx or error record in the server log."""
    problems = server_failures(entries)
    clean = not problems and report.get("failures") == [] and report.get("errors") == []
    assert clean and report["_exit_code"] == 0, (
        json.dumps(problems[:5], indent=1) + "\n" + report["_output"][-20000:]
    )


@pytest.fixture
def fuzz_server(app, tmp_path):
    """gunicorn + gevent on the `app` fixture's database, rate limits off (they would mask
    behaviour with 429s)."""
    with serve(
        app.config["SQLALCHEMY_DATABASE_URI"],
        tmp_path,
        RATELIMIT_ENABLED="false",
        # No token is "fresh": right after signing in, DELETE /auth/me needs no password, and
        # the fuzzer would erase the account it signs in with.
        RECENT_SIGN_IN_S="0",
    ) as server:
        yield server


@pytest.mark.live
@pytest.mark.timeout(600)
def test_schemathesis_finds_nothing_against_the_served_description(fuzz_server, runner, tmp_path):
    server = fuzz_server
    login = {"email": EMAIL, "password": PASSWORD, "device_fingerprint": FINGERPRINT}
    status, tokens = server.json("POST", "/auth/register", login)
    assert status == 201, tokens
    # Pro: no session quota, so generated session creations keep giving real ids to stream to.
    result = runner.invoke(args=["users", "set-tier", EMAIL, "pro"])
    assert result.exit_code == 0, result.output
    auth = {
        "Authorization": f"Bearer {tokens['access_token']}",
        "X-Device-Fingerprint": FINGERPRINT,
    }
    status, created = server.json("POST", "/sessions", {}, headers=auth)
    assert status == 201, created

    log_start = len(server.logs())
    started = time.monotonic()
    report = run_schemathesis(
        server.base_url,
        tmp_path,
        "signed-in",
        toml_config(EXAMPLES, STREAM_EXAMPLES, login),
        "--header",
        f"X-Device-Fingerprint: {FINGERPRINT}",
    )
    signed_in_s = time.monotonic() - started
    entries = served(server.logs()[log_start:])
    counts = per_operation(entries)
    print("\n" + summarize("signed in", report, counts, signed_in_s))
    assert_clean(report, entries)
    _status, spec = server.json("GET", "/openapi.json")
    assert set(counts) == {name for name, _ in operations(spec)}  # each one was exercised

    # A token that is not one of ours: every bearer route answers 401 INVALID_TOKEN.
    log_start = len(server.logs())
    started = time.monotonic()
    report = run_schemathesis(
        server.base_url,
        tmp_path,
        "bad-token",
        toml_config(20, 20, None),
        "--header",
        "Authorization: Bearer not-a-token",
        "--header",
        f"X-Device-Fingerprint: {FINGERPRINT}",
        "--phases",
        "coverage,fuzzing",
        "--exclude-path-regex",
        # Only the bearer routes: the others need no token (or, like /webhooks and /metrics,
        # a token of their own).
        "^/(health|metrics|webhooks/.*|auth/(register|login|refresh|config/features|password/"
        "(forgot|reset)))$",
    )
    entries = served(server.logs()[log_start:])
    counts = per_operation(entries)
    print(summarize("bad token", report, counts, time.monotonic() - started))
    assert_clean(report, entries)
    answers = {
        e["status"]
        for e in entries
        if e.get("msg") == "request"
        and e["route"].startswith(("/auth/", "/sessions"))
        and e["method"] != "OPTIONS"  # schemathesis probing which methods a path allows
    }
    assert answers == {401}, answers
    assert set(counts) == {name for name, op in operations(spec) if op.get("security")}


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield f"{method.upper()} {path}", operation


def resolve(spec, node):
    while "$ref" in node:
        node = spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def test_openapi_leaves_the_fuzzer_nothing_to_guess(client):
    """What makes the fuzz bite: no catch-all response, every error and header written down."""
    spec = client.get("/openapi.json").get_json()
    for name, operation in operations(spec):
        responses = operation["responses"]
        assert "default" not in responses, name
        assert "503" in responses, name
        if operation.get("security") == [{"bearerAuth": []}]:
            assert responses["401"]["headers"]["WWW-Authenticate"]["required"], name
            assert "Retry-After" in responses["429"]["headers"], name
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= set(responses), name
            body = resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
            # RevenueCat's webhook body is theirs: fields they add later must not be refused.
            open_body = name == "POST /webhooks/revenuecat"
            assert body.get("additionalProperties") is (None if open_body else False), name
        for status, response in responses.items():
            if status.startswith(("4", "5")) and name != "GET /health":
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, (name, status)
            if status == "204":
                assert "content" not in response, name
    created = spec["paths"]["/sessions"]["post"]["responses"]["201"]
    assert created["headers"]["Location"]["required"]
    assert {p["name"] for p in spec["paths"]["/sessions"]["post"]["parameters"]} == {
        "X-Device-Fingerprint"
    }
    stream = spec["paths"]["/sessions/{session_id}/messages"]["post"]["responses"]["200"]
    events = stream["content"]["text/event-stream"]["schema"]["oneOf"]
    assert [e["properties"]["event"]["enum"] for e in events] == [["token"], ["done"], ["error"]]


# What the fuzzer found (PostgreSQL rejects NUL in text; nothing encodes a lone surrogate to
# UTF-8): such text was a 500. Hypothesis never generates surrogates, so they are pinned here.
# json.dumps writes both as escapes (\\u0000, \\udc00), as a client's JSON would.
UNSTORABLE = ["a\x00b", "a\udc00b"]
REGISTRATION = {
    "email": "ana@example.com",
    "password": "Sup3rSecret!",
    "device_fingerprint": "phone-1",
    "device_name": "Ana's phone",
}


def post_json(client, path, body, **kw):
    return client.post(path, data=json.dumps(body), content_type="application/json", **kw)


@pytest.mark.parametrize("bad", UNSTORABLE)
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/auth/register", "email"),
        ("/auth/register", "password"),
        ("/auth/register", "device_fingerprint"),
        ("/auth/register", "device_name"),
        ("/auth/login", "email"),
        ("/auth/login", "password"),
        ("/auth/login", "device_fingerprint"),
        ("/auth/refresh", "refresh_token"),
    ],
)
def test_text_no_database_can_store_is_a_validation_error(client, bad, path, field):
    body = {"refresh_token": bad} if path == "/auth/refresh" else {**REGISTRATION, field: bad}
    if path == "/auth/login":
        del body["device_name"]
    response = post_json(client, path, body)
    assert response.status_code == 422, response.get_data(as_text=True)
    data = response.get_json()
    assert data["error"] == "VALIDATION_ERROR"
    assert list(data["details"]) == [field]


@pytest.mark.parametrize("bad", UNSTORABLE)
def test_unstorable_password_on_account_deletion_is_a_validation_error(client, user, bad):
    response = client.delete(
        "/auth/me",
        data=json.dumps({"password": bad}),
        content_type="application/json",
        headers=user["headers"],
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert list(response.get_json()["details"]) == ["password"]


@pytest.mark.parametrize("bad", UNSTORABLE)
def test_unstorable_text_in_a_message_is_a_validation_error(client, auth_headers, bad):
    created = client.post("/sessions", json={}, headers=auth_headers).get_json()
    path = f"/sessions/{created['session_id']}/messages"
    for body, field in [
        ({"content": bad}, "content"),
        ({"content": "hi", "history": [{"role": "user", "content": bad}]}, "history"),
    ]:
        response = post_json(client, path, body, headers=auth_headers)
        assert response.status_code == 422, response.get_data(as_text=True)
        assert list(response.get_json()["details"]) == [field]


@pytest.mark.parametrize(
    ("status", "content_type", "body", "problem"),
    [
        (404, "application/json", b'{"error": "NOT_FOUND", "message": "Nothing here."}', ""),
        (409, "application/json", b'{"error": "X", "message": "m.", "details": {"a": 1}}', ""),
        (400, "text/html", b"<h1>Bad Request</h1>", "content type"),
        (422, "application/json", b'{"error": "X", "message": "m.", "field": 1}', "keys"),
        (500, "application/json", b'{"error": "X"}', "message"),
        (401, "application/json", b'{"error": "X", "message": "m.", "details": []}', "details"),
        (200, "text/event-stream", b"event: token", ""),
    ],
)
def test_envelope_check_accepts_only_the_error_body(status, content_type, body, problem):
    found = envelope_problem("GET", "/sessions", status, content_type, body)
    assert (problem in found) if problem else (found == "")


if schemathesis is not None:

    @schemathesis.check
    def error_envelope(ctx: Any, response: Any, case: Any) -> bool | None:
        """Every 4xx/5xx body is the API's one JSON error envelope, with no other keys."""
        problem = envelope_problem(
            case.method.upper(),
            case.formatted_path,
            response.status_code,
            (response.headers.get("content-type") or [""])[0],  # lower-case keys, list values
            response.content,
        )
        if problem:
            raise AssertionError(f"Not the error envelope: {problem}")
        return None
