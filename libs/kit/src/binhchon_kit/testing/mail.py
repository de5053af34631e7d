"""A real SMTP server in-process for tests: every mail kept as a mail client parses it."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller

from binhchon_kit.testing.infra import free_port


class Mailbox:
    """``controller.start()`` before use, ``controller.stop()`` after; ``port`` is where notify sends."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)  # the default policy's factory
        self.messages.append(message)
        return "250 OK"

    def texts(self) -> list[tuple[str, str, str]]:
        """(To, Subject, plain-text body) of each mail received."""
        texts = []
        for m in self.messages:
            body = m.get_body(("plain",))
            texts.append((m["To"], m["Subject"], body.get_content() if body is not None else ""))
        return texts
