"""The channels: email over SMTP (aiosmtplib) and signed webhooks (httpx).

Webhook signature (documented for integrators in the README): headers ``X-Binhchon-Timestamp`` (Unix seconds)
and ``X-Binhchon-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``; the receiver recomputes it
over the raw body and rejects a timestamp more than five minutes old.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from email.message import EmailMessage

import aiosmtplib
import httpx


class DeliveryError(Exception):
    pass


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class Email:
    def __init__(self, host: str, port: int, sender: str, username: str = "", password: str = "",
                 starttls: bool = False) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls = username, password, starttls

    async def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject  # non-ASCII subjects are encoded (RFC 2047) by the email package
        message["Message-ID"] = f"<{message_id}@binhchon>"
        message.set_content(text, charset="utf-8")
        message.add_alternative(html, subtype="html", charset="utf-8")
        try:
            await aiosmtplib.send(message, hostname=self.host, port=self.port, start_tls=self.starttls,
                                  username=self.username or None, password=self.password or None, timeout=15)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {exc}") from exc


class Webhook:
    def __init__(self, timeout: float = 10) -> None:
        self.client = httpx.AsyncClient(timeout=timeout)

    async def send(self, url: str, secret: str, body: bytes, delivery_id: str, event_type: str) -> None:
        timestamp = str(int(time.time()))
        headers = {"content-type": "application/cloudevents+json; charset=utf-8",
                   "X-Binhchon-Timestamp": timestamp, "X-Binhchon-Signature": sign(secret, timestamp, body),
                   "X-Binhchon-Delivery": delivery_id, "X-Binhchon-Event-Type": event_type}
        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code // 100 != 2:
            raise DeliveryError(f"{url} answered {response.status_code}")

    async def close(self) -> None:
        await self.client.aclose()
