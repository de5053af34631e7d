"""Notify's SMTP channel greets the mail server with this host's name, looked up once for the process: aiosmtplib's
default looks it up (socket.getfqdn, in a worker thread) on every connection. Connections are reused (ADR 0054):
one greeting per connection, each with the name looked up once."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from binhchon_kit.testing.infra import free_port
from notify.adapters.channels import Email


class Server:
    """Keeps the name each session's EHLO gave and each message's recipients."""

    def __init__(self) -> None:
        self.greetings: list[str] = []
        self.recipients: list[list[str]] = []

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
                          ) -> list[str]:
        self.greetings.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.mark.timeout(30)
async def test_the_hosts_name_is_looked_up_once_and_given_in_every_greeting(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []

    def getfqdn(name: str = "") -> str:
        looked_up.append(name)
        return "notify-1.ocop.example.vn"

    monkeypatch.setattr(socket, "getfqdn", getfqdn)
    server = Server()
    controller = Controller(server, hostname="127.0.0.1", port=free_port(), server_hostname="mx.example.vn")
    controller.start()
    try:
        # no connection kept between mails: each mail its own connection and greeting
        channel = Email("127.0.0.1", controller.port, "Văn phòng OCOP <ocop@example.vn>", per_connection=1)
        for n, to in enumerate(("lan@example.vn", "minh@example.vn", "hoa@example.vn")):
            await channel.send(to, "Hồ sơ đã được tiếp nhận", "Kính gửi,\n", "<p>Kính gửi,</p>", f"m-{n}")
    finally:
        controller.stop()
    assert server.recipients == [["lan@example.vn"], ["minh@example.vn"], ["hoa@example.vn"]]
    assert server.greetings == ["notify-1.ocop.example.vn"] * 3
    assert looked_up == [""]
