"""`flask chat`: a terminal client that signs in, opens a session and streams each reply."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import click
import httpx
from httpx_sse import EventSource


class Client:
    """The API over HTTP or HTTPS (httpx); replies are read as Server-Sent Events (httpx-sse)."""

    def __init__(self, base_url: str, ca_file: str | None = None):
        self.http = httpx.Client(
            base_url=base_url,
            # Connecting is quick or fails; a reply may be silent a while (pings every 15 s).
            timeout=httpx.Timeout(10.0, read=120.0),
            verify=ssl.create_default_context(cafile=ca_file) if ca_file else True,
        )
        self.token: str | None = None

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        all_headers = dict(headers or {})
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        return all_headers

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        response = self.http.request(
            method, path, json=body, headers=self._headers(kw.get("headers"))
        )
        return response.status_code, (response.json() if response.content else None)

    def stream(self, path: str, body: Any) -> Any:
        """The POST as a context manager over the (not yet read) response."""
        headers = {**self._headers(None), "Accept": "text/event-stream"}
        return self.http.stream("POST", path, json=body, headers=headers)


def sse_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs from a text/event-stream; comments (pings) are skipped."""
    for sse in EventSource(response).iter_sse():
        if sse.data:
            yield sse.event, json.loads(sse.data)


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
@click.option("--ca-file", default=None, help="CA bundle to trust for an https:// URL")
def chat(url: str, email: str, password: str, fingerprint: str, ca_file: str | None) -> None:
    """Talk to the coach from the terminal: one message per step, replies stream live."""
    client = Client(url, ca_file)
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
    body = {"content": content, "step": step, "history": history[-20:]}
    with client.stream(f"/sessions/{session_id}/messages", body) as response:
        if response.status_code != 200:
            answer = json.loads(response.read())
            click.echo(f"{answer['error']}: {answer['message']}")
            return step
        return _read_reply(response, content, step, history)


def _read_reply(
    response: httpx.Response, content: str, step: str, history: list[dict[str, str]]
) -> str | None:
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
