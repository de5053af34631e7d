"""Mail as the recipient's mail client reads it: every template sent through the real Email channel to a real SMTP
server, the raw bytes it received parsed with Python's ``email`` parser (policy ``default``); and a ceremony
invitation that reaches the mail catcher through the whole service, greeting the producer by name."""

from __future__ import annotations

import email
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from binhchon_kit.contracts.certification import CeremonyScheduled, Invitee
from binhchon_kit.contracts.intake import DossierReceived
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.infra import free_port
from binhchon_kit.testing.samples import dossier_body
from notify.adapters.channels import Email
from notify.domain.messages import VIETNAM
from notify.mail_scenarios import Rendered, all_mails
from notify.main import build

from .support import Clock, vietnam_time
from .test_notify_delivery import notify_settings, publish

MAILS = all_mails()


class RawMailbox:
    """An in-process SMTP server that keeps the raw bytes of what it receives."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.original_content)
        return "250 OK"

    def read(self) -> list[EmailMessage]:
        """What a mail client shows: each message parsed from its raw bytes."""
        return [email.message_from_bytes(raw, policy=default_policy) for raw in self.raw]  # type: ignore[misc]


@pytest.fixture
def raw_mailbox():
    box = RawMailbox()
    box.controller.start()
    yield box
    box.controller.stop()


def _plain_lines(message: EmailMessage) -> list[str]:
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content().splitlines()  # text/plain travels with CRLF line ends (RFC 2046): compare lines


@pytest.mark.parametrize(("mail"), [m for _, m in MAILS], ids=[i for i, _ in MAILS])
async def test_a_mail_client_reads_exactly_the_rendered_subject_and_text(raw_mailbox: RawMailbox,
                                                                        mail: Rendered) -> None:
    channel = Email("127.0.0.1", raw_mailbox.port, "Ban điều phối OCOP <no-reply@binhchon.vn>")
    await channel.send(mail.recipient.email or "", mail.subject, mail.text, mail.html, "d" * 32)
    await eventually(lambda: _arrived(raw_mailbox, 1), what="the mail at the SMTP server")
    [received] = raw_mailbox.read()
    assert received["Subject"] == mail.subject
    assert _plain_lines(received) == mail.text.splitlines()
    html = received.get_body(("html",))
    assert html is not None and mail.recipient.name in html.get_content()
    assert received["To"] == mail.recipient.email
    assert received["From"].addresses[0].display_name == "Ban điều phối OCOP"
    assert all(len(line) <= 78 for line in raw_mailbox.raw[0].split(b"\r\n")), "lines a server may refuse"


async def _arrived(box: RawMailbox, n: int) -> bool | None:
    return len(box.raw) >= n or None


@pytest.mark.integration
async def test_a_ceremony_invitation_greets_the_producer_by_name(infra, mongo, unique, topic_prefix, dev_keys,
                                                                raw_mailbox: RawMailbox) -> None:
    key = str(dev_keys[1])
    clock = Clock()  # the one instant the service and this test both use, moved only by the test
    now, today_vn = clock(), clock.today()
    body = dossier_body(product="Mật ong rừng nguyên chất Lục Nam, đóng chai thủy tinh 500 ml")
    dossier = f"dossier-{unique}"
    received = DossierReceived(dossier_id=dossier, round_id=f"round-{unique}", round_code=f"RC{unique}",
                               programme="OCOP", level="province", receipt_number=f"RC{unique}/00001",  # type: ignore[arg-type]
                               received_at=now - timedelta(minutes=5), check_due_date=today_vn + timedelta(days=3),
                               producer=body["producer"], product=body["product"], documents=body["documents"])
    # the ceremony is the day after tomorrow: its invitation (3 days before) is due, its confirmation (1 day) not
    ceremony = CeremonyScheduled(
        ceremony_id=f"ceremony-{unique}", round_id=f"round-{unique}",
        title="Lễ tôn vinh, trao giấy chứng nhận sản phẩm OCOP tỉnh Bắc Giang năm 2026",
        on=today_vn + timedelta(days=2), at="08:30", place="Nhà văn hóa tỉnh Bắc Giang",  # type: ignore[arg-type]
        invitees=[Invitee(certificate_number="OCOP-UBNDTBG-2026-00001", holder=body["producer"]["name"],
                          product_name=body["product"]["name"], dossier_id=dossier)])
    settings = notify_settings(infra, unique, topic_prefix, key, raw_mailbox)
    db = mongo[f"notify_{unique}"]
    app = build(settings, clock=clock)
    async with running(app, "http://notify"):
        await publish(mongo, infra, topic_prefix, unique, "intake", [(dossier, received)])
        await eventually(lambda: _arrived(raw_mailbox, 1), what="the receipt")
        await publish(mongo, infra, topic_prefix, unique, "certification",
                      [(f"round-{unique}", ceremony)])
        await eventually(lambda: _arrived(raw_mailbox, 2), what="the invitation")
        await eventually(lambda: _sent(db, "ceremony.invitation"), what="the invitation recorded as sent")
        # the confirmation request waits for 08:00 the day before the ceremony, in the service's time: it is
        # queued, not sent, and due later (a count of mails right after the invitation would miss an early one)
        confirmation = await db["deliveries"].find_one({"template": "ceremony.confirmation"})
        due = vietnam_time(ceremony.on - timedelta(days=1), 8)
        assert (confirmation["status"], confirmation["attempts"], confirmation["due_at"]) == ("pending", 0, due)
        assert due > clock() and "due_key" in confirmation
        assert await app.state.notify.deliver_due() == 0  # nothing is due yet

        clock.move_to(due)  # its morning comes
        app.state.notify.wake.set()
        await eventually(lambda: _arrived(raw_mailbox, 3), what="the confirmation request, at its time")
        await eventually(lambda: _sent(db, "ceremony.confirmation"), what="the confirmation recorded as sent")
    receipt, invitation, confirmation_mail = raw_mailbox.read()
    producer = body["producer"]["name"]
    assert invitation["Subject"] == f"Thư mời dự {ceremony.title}"
    lines = _plain_lines(invitation)
    assert lines[0] == f"Kính gửi {producer},"
    assert f"vào lúc 08:30 ngày {ceremony.on.strftime('%d/%m/%Y')} tại Nhà văn hóa tỉnh Bắc Giang," in lines
    assert lines[0] in invitation.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert _plain_lines(receipt)[0] == f"Kính gửi {producer},"
    shown = (now - timedelta(minutes=5)).astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")
    assert f"Thời gian tiếp nhận: {shown} (+07:00)" in _plain_lines(receipt)
    assert confirmation_mail["Subject"] == f"Xác nhận tham dự {ceremony.title} ngày {ceremony.on:%d/%m/%Y}"
    assert _plain_lines(confirmation_mail)[0] == f"Kính gửi {producer},"
    assert len(raw_mailbox.raw) == 3


async def _sent(db: Any, template: str) -> bool | None:
    return await db["deliveries"].count_documents({"template": template, "status": "sent"}) == 1 or None
