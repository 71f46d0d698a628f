"""`flask chat`: a terminal client that signs in, opens a session and streams each reply."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from http.client import HTTPConnection, HTTPResponse
from typing import Any
from urllib.parse import urlsplit

import click


class Client:
    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token: str | None = None

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> HTTPResponse:
        conn = HTTPConnection(self.host, self.port, timeout=120)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        conn.request(method, path, json.dumps(body) if body is not None else None, all_headers)
        return conn.getresponse()

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        response = self.request(method, path, body, **kw)
        raw = response.read()
        return response.status, (json.loads(raw) if raw else None)


def sse_events(response: HTTPResponse) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs from a text/event-stream; comments and unknown lines skipped."""
    event, data = "message", ""
    for raw in response:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield event, json.loads(data)
            event, data = "message", ""
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data += line[6:]


def sign_in(client: Client, email: str, password: str, fingerprint: str) -> None:
    body = {
        "email": email,
        "password": password,
        "device_fingerprint": fingerprint,
        "device_name": socket.gethostname()[:100],
        "platform": "web",
    }
    status, answer = client.json("POST", "/auth/login", body)
    if status == 401:
        status, answer = client.json("POST", "/auth/register", body)
    if status not in (200, 201):
        raise click.ClickException(f"{answer['error']}: {answer['message']}")
    client.token = answer["access_token"]


@click.command("chat")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="API base URL")
@click.option("--email", prompt=True)
@click.option("--password", prompt=True, hide_input=True)
@click.option("--fingerprint", default="terminal-" + socket.gethostname(), show_default=True)
def chat(url: str, email: str, password: str, fingerprint: str) -> None:
    """Talk to the coach from the terminal: one message per step, replies stream live."""
    client = Client(url)
    sign_in(client, email, password, fingerprint)
    status, created = client.json(
        "POST", "/sessions", {}, headers={"X-Device-Fingerprint": fingerprint}
    )
    if status != 201:
        raise click.ClickException(f"{created['error']}: {created['message']}")
    session_id, step = created["session_id"], created["current_step"]
    history: list[dict[str, str]] = []
    click.echo(f"Session {session_id} opened. Ctrl-D to stop.")
    while step is not None:
        try:
            content = click.prompt(f"\n[{step}] you")
        except click.Abort:
            return
        step = _turn(client, session_id, step, content, history)
    click.echo("\nSession completed.")


def _turn(
    client: Client, session_id: str, step: str, content: str, history: list[dict[str, str]]
) -> str | None:
    response = client.request(
        "POST",
        f"/sessions/{session_id}/messages",
        {"content": content, "step": step, "history": history[-20:]},
    )
    if response.status != 200:
        answer = json.loads(response.read())
        click.echo(f"{answer['error']}: {answer['message']}")
        return step
    click.echo("coach: ", nl=False)
    reply = ""
    for event, data in sse_events(response):
        if event == "token":
            reply += data["content"]
            click.echo(data["content"], nl=False)
        elif event == "done":
            click.echo(f"\n  (emotion: {data['emotion_detected']}, next: {data['next_step']})")
            if data.get("blocked"):
                for region, text in data["resources"].items():
                    click.echo(f"  {region}: {text}")
                return step
            history += [
                {"role": "user", "content": content},
                {"role": "assistant", "content": reply},
            ]
            return data["next_step"]  # type: ignore[no-any-return]
        elif event == "error":
            click.echo(f"\n  {data['error']}: {data['message']}")
            return step
    return step
