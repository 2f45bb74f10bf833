"""Real SMTP parts for tests: a capture server standing in for the company's relay (aiosmtpd,
on port 0), a way to find the gateway's port in a server's output, and a self-signed
certificate for STARTTLS."""

from __future__ import annotations

import asyncio
import email
import re
import smtplib
import struct
import subprocess
import threading
import time
import zlib
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from harness import Server

WAIT = 15.0
SUPPORT = "support@shop.test"


class CaptureRelay:
    """An SMTP server that keeps what it is sent. ``answer`` (e.g. "451 4.4.1 busy",
    "550 5.1.1 unknown") makes it refuse every recipient with that reply instead."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.answer: str | None = None
        self._cond = threading.Condition()
        # aiosmtpd's Controller cannot listen on port 0; its own loop in a thread can.
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="capture-relay")
        self._server: asyncio.AbstractServer | None = None
        # Set before start(): STARTTLS required with this context; AUTH required with this login.
        self.tls_context: Any = None
        self.login: tuple[str, str] | None = None
        self.logins: list[str] = []

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if self.answer:
            return self.answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        with self._cond:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self._cond.notify_all()
        return "250 OK captured"

    def _authenticate(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        login = (data.login.decode(), data.password.decode()) if isinstance(data, LoginPassword) else None
        if login is not None and login == self.login:
            self.logins.append(login[0])
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def start(self) -> CaptureRelay:
        self._thread.start()

        async def listen() -> asyncio.AbstractServer:
            return await self._loop.create_server(
                lambda: SMTP(
                    self,
                    hostname="relay.test",
                    tls_context=self.tls_context,
                    require_starttls=self.tls_context is not None,
                    auth_required=self.login is not None,
                    authenticator=self._authenticate if self.login else None,
                ),
                "127.0.0.1",
                0,
            )

        self._server = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(WAIT)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(WAIT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(WAIT)
        self._loop.close()

    def wait(self, count: int = 1, timeout: float = WAIT) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the relay got {len(self.messages)} message(s), expected {count}")
                self._cond.wait(left)
            return list(self.messages)


def smtp_port(server: Server, nth: int = 1, timeout: float = 30.0) -> int:
    """The port of the ``nth`` SMTP gateway start seen in the server's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            int(m.group(1))
            for line in list(server.output)
            if (m := re.search(r"SMTP listening on \S+:(\d+)", line))
        ]
        if len(found) >= nth:
            return found[nth - 1]
        time.sleep(0.05)
    raise AssertionError("the SMTP gateway did not start:\n" + "".join(server.output[-40:]))


def self_signed(folder: Path) -> tuple[str, str]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def mail_env(relay: CaptureRelay, **extra: str) -> dict[str, str]:
    return {
        "CALLYARD_CHANNELS__EMAIL__ENABLED": "true",
        "CALLYARD_CHANNELS__EMAIL__PORT": "0",
        "CALLYARD_CHANNELS__EMAIL__ADDRESSES": f"{SUPPORT},sales@shop.test",
        "CALLYARD_CHANNELS__EMAIL__RELAY_HOST": "127.0.0.1",
        "CALLYARD_CHANNELS__EMAIL__RELAY_PORT": str(relay.port),
        "CALLYARD_GATEWAY__POLL_SECONDS": "0.2",
        **extra,
    }


def letter(
    subject: str = "Where is my order?",
    body: str = "Hello, order 42 has not arrived.",
    sender: str = "Olga Petrova <olga@example.ru>",
    msgid: str = "<first@example.ru>",
    **headers: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def send(port: int, msg: EmailMessage | bytes, to: str = SUPPORT, sender: str = "olga@example.ru") -> dict:
    with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client:
        if isinstance(msg, bytes):
            return client.sendmail(sender, [to], msg)
        return client.send_message(msg, from_addr=sender, to_addrs=[to])


def png(width: int = 2, height: int = 2) -> bytes:
    """A tiny real PNG (red): a browser or an image library can decode it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def related_mail(remote_image: str) -> EmailMessage:
    """An HTML mail with an inline (cid:) logo, as mail clients send it (multipart/related),
    and a remote image that must never be fetched."""
    mail = letter(subject="Broken spade", body="See the photo.", msgid="<photo@example.ru>")
    mail.add_alternative(
        f'<p>See the photo:<img src="cid:photo1@example.ru" alt="photo"><img src="{remote_image}"></p>',
        subtype="html",
    )
    mail.get_payload()[1].add_related(png(), maintype="image", subtype="png", cid="<photo1@example.ru>")
    return mail
