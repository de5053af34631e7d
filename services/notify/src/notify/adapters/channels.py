"""The channels: email over SMTP (aiosmtplib) and signed webhooks (httpx).

Webhooks follow Standard Webhooks (https://www.standardwebhooks.com, documented for integrators in the README),
so that an agency verifies them with that project's libraries and no code of ours: ``webhook-id`` (the delivery,
the same on every retry), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature: v1,<base64
HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``, where the key is the ``whsec_`` secret's base64 part, decoded.
The body is the event as published to agencies (``notify.domain.published``: its identity and the declared fields)
in the CloudEvents HTTP binding's structured mode (``application/cloudevents+json``); where it may go: ``targets``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import parseaddr
from typing import Any

import aiosmtplib
import httpx

from notify.adapters.targets import ForbiddenTarget, Targets


class DeliveryError(Exception):
    pass


SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A subscription's signing secret as Standard Webhooks writes it: ``whsec_`` and 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret. Subscriptions made before Standard Webhooks have a plain secret (no ``whsec_``):
    its UTF-8 bytes are the key, which the libraries take as given (``Webhook(secret.encode())``)."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise ValueError("a whsec_ secret is base64 after its prefix") from exc


def sign(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(signing_key(secret), f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class MailPolicy(EmailPolicy):
    """The default policy, except how it folds a long non-ASCII unstructured header (the Subject).

    Python's folder (3.11 to 3.13 at least) may put the space between two words exactly at a fold between two
    RFC 2047 encoded words, and whitespace between encoded words is not part of the text (RFC 2047 §6.2):
    readers show ``Giấy biên nhận hồ sơsố``. ``email.header.Header`` instead encodes the whole text, spaces
    included, into encoded words of at most a line each, so folding adds nothing and removes nothing.
    """

    def fold(self, name: str, value: Any) -> str:
        if self._keeps_spaces_itself(value):
            return str(super().fold(name, value))
        return f"{name}: {Header(str(value), 'utf-8', header_name=name).encode(linesep=self.linesep)}{self.linesep}"

    def fold_binary(self, name: str, value: Any) -> bytes:
        if self._keeps_spaces_itself(value):
            return bytes(super().fold_binary(name, value))
        return self.fold(name, value).encode("ascii")

    def _keeps_spaces_itself(self, value: Any) -> bool:
        # ASCII and SMTPUTF8 text is folded at spaces, which unfolding restores; addresses keep their own rules
        return self.utf8 or not isinstance(value, UnstructuredHeader) or str(value).isascii()


# SMTP's line ends; bodies encoded to 7 bits, since we send bytes and cannot ask the server for 8BITMIME first
MAIL_POLICY = MailPolicy(linesep="\r\n", cte_type="7bit")


class Email:
    """Mail over SMTP. Connections are kept and reused for the next mails (ADR 0054): a mail costs its MAIL, RCPT
    and DATA exchanges, not a TCP connection, a greeting and a QUIT. A connection idle for ``idle_seconds`` is
    closed (the next mail opens a new one), as is one that carried ``per_connection`` mails; one that fails in
    any way is dropped, never used again. A reused connection the server closed meanwhile fails at MAIL, before
    anything of the mail was sent: that mail is sent again at once on a new connection. A failure once the mail
    is under way is the attempt's (``DeliveryError``), retried by the service as before."""

    def __init__(self, host: str, port: int, sender: str, username: str = "", password: str = "",
                 starttls: bool = False, *, idle_seconds: float = 10.0, per_connection: int = 100,
                 timeout: float = 15, clock: Callable[[], float] = time.monotonic) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls = username, password, starttls
        self.local_hostname: str | None = None  # what EHLO names: this host's FQDN, looked up once
        self.idle_seconds, self.per_connection, self.timeout = idle_seconds, per_connection, timeout
        self.clock = clock  # when a connection was last used (monotonic seconds)
        self.idle: list[_Session] = []  # connected, between mails; the most recently used last
        self.connections = 0  # opened since start (what tests and logs count)
        self._from_header: bytes | None = None  # the From header as folded once for every mail

    # ---- the message --------------------------------------------------------------------------------

    def compose(self, to: str, subject: str, text: str, html: str, message_id: str) -> bytes:
        """The message as it goes on the wire (aiosmtplib would flatten it with its own policy, not ours): built
        directly for the mails notify sends (a plain address, a Vietnamese subject), else by ``compose_message``.
        A mail client reads both the same (tests/unit/test_mail_composed_directly.py)."""
        to, subject = " ".join(to.split()), " ".join(subject.split())  # no CR/LF reaches a header
        simple = _PLAIN_ADDRESS.fullmatch(to) and _PLAIN_ID.fullmatch(message_id)
        if not simple or subject.isascii() or "=?" in subject:
            return self.compose_message(to, subject, text, html, message_id)
        if self._from_header is None:
            self._from_header = _headers(self._message(self.sender, "", "", ""))
        boundary = f"=_{message_id}_{secrets.token_hex(8)}"
        plain, rich = _text_part("plain", text), _text_part("html", html)
        while boundary.encode() in plain or boundary.encode() in rich:
            boundary = f"=_{message_id}_{secrets.token_hex(8)}"
        # the Subject folded as MAIL_POLICY folds a non-ASCII one (ADR 0009): spaces inside the encoded words
        folded = Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")
        head = (f"To: {to}\r\nSubject: {folded}\r\n"
                f"Message-ID: <{message_id}@binhchon>\r\nMIME-Version: 1.0\r\n"
                f"Content-Type: multipart/alternative;\r\n boundary=\"{boundary}\"\r\n\r\n".encode("ascii"))
        line = b"--" + boundary.encode("ascii")
        return b"".join((self._from_header, head, line, CRLF, plain, CRLF, line, CRLF, rich, CRLF, line, b"--", CRLF))

    def compose_message(self, to: str, subject: str, text: str, html: str, message_id: str) -> bytes:
        """The message by Python's ``email`` package and notify's policy (ADR 0009): for whatever ``compose`` does
        not build itself."""
        message = self._message(self.sender, " ".join(to.split()), " ".join(subject.split()), message_id)
        message.set_content(text, charset="utf-8")
        message.add_alternative(html, subtype="html", charset="utf-8")
        return message.as_bytes(policy=MAIL_POLICY)

    @staticmethod
    def _message(sender: str, to: str, subject: str, message_id: str) -> EmailMessage:
        message = EmailMessage(policy=MAIL_POLICY)
        message["From"] = sender
        if to:
            message["To"] = to
            # encoded (RFC 2047): a reader decodes exactly this text
            message["Subject"] = subject
            message["Message-ID"] = f"<{message_id}@binhchon>"
        return message

    # ---- the exchange -------------------------------------------------------------------------------

    async def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        raw = self.compose(to, subject, text, html, message_id)
        if self.local_hostname is None:
            # aiosmtplib's default asks socket.getfqdn() (a name lookup, in a worker thread) on every connection
            self.local_hostname = await asyncio.to_thread(socket.getfqdn)
        session: _Session | None = None
        try:
            session = self._reuse()
            if session is not None:
                try:
                    await session.smtp.mail(parseaddr(self.sender)[1], options=self._size(session, raw))
                except (aiosmtplib.SMTPException, OSError):
                    # closed by the server while idle (or it answers 421): nothing of this mail went out yet
                    session.smtp.close()
                    session = None
            if session is None:
                session = await self._connect()
                await session.smtp.mail(parseaddr(self.sender)[1], options=self._size(session, raw))
            await session.smtp.rcpt(to)
            await session.smtp.data(raw)
        except BaseException as exc:  # cut (the lease's timeout), refused or broken: the connection is not reused
            if session is not None:
                session.smtp.close()
            if isinstance(exc, aiosmtplib.SMTPException | OSError):
                raise DeliveryError(f"SMTP {self.host}:{self.port}: {exc}") from exc
            raise
        session.sent += 1
        session.since = self.clock()
        if session.sent >= self.per_connection:
            await self._quit(session)
        else:
            self.idle.append(session)

    @staticmethod
    def _size(session: _Session, raw: bytes) -> list[str]:
        return [f"SIZE={len(raw)}"] if session.smtp.supports_extension("size") else []

    def _reuse(self) -> _Session | None:
        while self.idle:
            session = self.idle.pop()
            if session.smtp.is_connected and self.clock() - session.since < self.idle_seconds:
                return session
            session.smtp.close()
        return None

    async def _connect(self) -> _Session:
        smtp = aiosmtplib.SMTP(hostname=self.host, port=self.port, start_tls=self.starttls,
                               username=self.username or None, password=self.password or None, timeout=self.timeout,
                               local_hostname=self.local_hostname)
        session = _Session(smtp, self.clock())
        try:
            await smtp.connect()
        except BaseException:
            smtp.close()
            raise
        self.connections += 1
        return session

    async def close_idle(self) -> None:
        """Close the connections idle for ``idle_seconds`` (the delivery loop calls this after each pass)."""
        now = self.clock()
        stale = [s for s in self.idle if now - s.since >= self.idle_seconds]
        self.idle = [s for s in self.idle if now - s.since < self.idle_seconds]
        for session in stale:
            await self._quit(session)

    async def close(self) -> None:
        sessions, self.idle = self.idle, []
        for session in sessions:
            await self._quit(session)

    async def _quit(self, session: _Session) -> None:
        try:
            async with asyncio.timeout(2):
                await session.smtp.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        finally:
            session.smtp.close()


@dataclass
class _Session:
    smtp: aiosmtplib.SMTP
    since: float  # last used
    sent: int = 0


CRLF = b"\r\n"
# what compose builds itself: an address with nothing to quote or encode, an id of a delivery key's characters
_PLAIN_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+$")
_PLAIN_ID = re.compile(r"^[A-Za-z0-9._-]+$")


def _headers(message: EmailMessage) -> bytes:
    """The message's header lines, each folded by notify's policy."""
    raw = message.as_bytes(policy=MAIL_POLICY)
    return raw[:raw.index(CRLF + CRLF) + 2]


def _text_part(subtype: str, text: str) -> bytes:
    """A text part as the email package's ``set_content`` makes it (lines ended by CRLF, a last line end): 7 bits
    as they are when the text is ASCII in short lines, else base64."""
    lines = text.encode("utf-8").splitlines()
    body = CRLF.join(lines) + CRLF
    head = f"Content-Type: text/{subtype}; charset=\"utf-8\"\r\nContent-Transfer-Encoding: ".encode("ascii")
    if body.isascii() and all(len(line) <= 78 for line in lines):
        return head + b"7bit\r\n\r\n" + body
    return head + b"base64\r\n\r\n" + base64.encodebytes(body).replace(b"\n", CRLF)


class Webhook:
    """Standard Webhooks deliveries to checked targets only (``targets``, ADR 0028): the URL is checked again before
    every attempt and the connection goes to the address the check resolved; redirects are not followed; connect,
    read and the whole exchange are bounded in time; the answer's body is never read (its headers are bounded by
    h11's 16 KiB). What a failure says (``DeliveryError``) is our own words and the answer's status class, never
    what the far end wrote: the delivery log must not turn notify into a port scanner's display."""

    def __init__(self, targets: Targets | None = None, *, connect_seconds: float = 5, read_seconds: float = 10,
                 total_seconds: float = 30, clock: Callable[[], float] = time.time) -> None:
        self.targets = targets or Targets()
        self.total_seconds = total_seconds
        # trust_env=False: no proxy from the environment stands between the check and the connection
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(read_seconds, connect=connect_seconds), follow_redirects=False, trust_env=False)
        self.clock = clock  # the signature's time: receivers refuse one more than five minutes from theirs

    async def send(self, url: str, secret: str, body: bytes, delivery_id: str) -> None:
        """POST the CloudEvent ``body`` (structured mode); ``delivery_id`` is the same on every retry, so the
        receiver deduplicates on ``webhook-id``."""
        try:
            target = await self.targets.check(url)
        except ForbiddenTarget as exc:
            raise DeliveryError(f"refused: {exc.reason}") from exc
        timestamp = str(int(self.clock()))
        headers = {"content-type": "application/cloudevents+json; charset=utf-8", "webhook-id": delivery_id,
                   "webhook-timestamp": timestamp, "webhook-signature": sign(secret, delivery_id, timestamp, body),
                   "host": target.url.netloc.decode("ascii")}
        # TLS checks the certificate against the name, while the socket goes to the checked address
        extensions = {"sni_hostname": target.host} if target.is_name and target.url.scheme == "https" else {}
        try:
            async with asyncio.timeout(self.total_seconds), self.client.stream(
                    "POST", target.connect_url(), content=body, headers=headers, extensions=extensions) as response:
                status = response.status_code  # the body is never read
        except TimeoutError as exc:
            raise DeliveryError("no answer in time") from exc
        except httpx.ConnectTimeout as exc:
            raise DeliveryError("could not connect in time") from exc
        except httpx.TimeoutException as exc:
            raise DeliveryError("no answer in time") from exc
        except httpx.ConnectError as exc:
            raise DeliveryError("could not connect") from exc
        except httpx.HTTPError as exc:  # the far end's own words (a closed socket, a bad answer) stay out
            raise DeliveryError("the exchange failed") from exc
        if status // 100 == 3:
            raise DeliveryError("answered 3xx (redirects are not followed)")
        if status // 100 != 2:
            raise DeliveryError(f"answered {status // 100}xx")

    async def close(self) -> None:
        await self.client.aclose()
