"""A real SMTP server (aiosmtpd) for the tests, run as its own process (not under gevent).

    python -m tests.support.smtp_server DIR PORT [--tls CERT KEY] [--smtps] [--login USER:PW]
        [--delay S]

Each message it accepts is written to DIR/<n>.eml before it answers 250; it prints
"ready" once it listens. --tls offers STARTTLS (required), --smtps speaks TLS from the
start, --login requires that user and password (over TLS only), --delay waits S seconds
before it takes each message (a slow mail server).
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Mailbox:
    def __init__(self, folder: Path, delay_s: float = 0.0):
        self.folder = folder
        self.delay_s = delay_s
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay_s)
        self.count += 1
        (self.folder / f"{self.count:04d}.eml").write_bytes(envelope.original_content)
        return "250 OK"


def authenticator(expected: tuple[str, str]) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and (
                data.login.decode(),
                data.password.decode(),
            )
            == expected
        )
        return AuthResult(success=ok, handled=False)

    return check


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--smtps", action="store_true")
    parser.add_argument("--login")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    context = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*args.tls)
    options: dict[str, Any] = {}
    if args.login:
        user, _, password = args.login.partition(":")
        options.update(authenticator=authenticator((user, password)), auth_required=True)
    if context is not None and not args.smtps:
        options.update(tls_context=context, require_starttls=True)
    if args.smtps:
        options.update(auth_require_tls=False)  # aiosmtpd only counts STARTTLS as TLS
    controller = Controller(
        Mailbox(args.folder, args.delay),
        hostname="127.0.0.1",
        port=args.port,
        ssl_context=context if args.smtps else None,
        server_hostname="127.0.0.1",
        **options,
    )
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the test closes the pipe (or dies)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
