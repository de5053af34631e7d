"""A producer holding several of a ceremony's certificates gets one invitation, and one confirmation request,
naming every one of them: at the mail catcher, and as certification's ``GET /ceremonies/{id}`` matches them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from binhchon_kit.contracts.certification import CeremonyScheduled, Invitee
from binhchon_kit.contracts.intake import DossierReceived
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.samples import dossier_body
from binhchon_kit.testing.stored_events import stored
from certification.domain.ceremonies import with_deliveries
from notify.main import build

from .support import Clock, vietnam_time
from .test_notify_delivery import Mailbox, notify_settings, publish

pytestmark = pytest.mark.integration


def _received(dossier: str, round_id: str, k: int, clock: Clock, product: str, regno: str,
              email: str) -> DossierReceived:
    body = dossier_body(product=product, regno=regno)
    body["producer"]["contact"]["email"] = email
    return DossierReceived(dossier_id=dossier, round_id=round_id, round_code="RC", programme="OCOP",  # type: ignore[arg-type]
                           level="province", receipt_number=f"RC-{k:05d}", received_at=clock(),  # type: ignore[arg-type]
                           check_due_date=clock.today(), producer=body["producer"], product=body["product"],
                           documents=body["documents"])


async def test_two_certificates_of_one_producer_make_one_invitation_naming_both(infra, mongo, unique, topic_prefix,
                                                                               dev_keys, mailbox: Mailbox) -> None:
    clock = Clock()
    round_id = f"round-{unique}"
    db = mongo[f"notify_{unique}"]
    # Đông Hưng holds two of the round's certificates (honey and vermicelli), An Lạc one
    dossiers = {k: f"dossier-{unique}-{k}" for k in range(3)}
    received = [
        _received(dossiers[0], round_id, 1, clock, "Mật ong rừng Lục Nam", "2400123456", "donghung@example.vn"),
        _received(dossiers[1], round_id, 2, clock, "Miến dong Đông Hưng", "2400123456", "donghung@example.vn"),
        _received(dossiers[2], round_id, 3, clock, "Gà đồi Yên Thế", "2400999999", "anlac@example.vn")]
    day = clock.today() + timedelta(days=2)  # the invitation (3 days before) is due, the confirmation (1 day) not
    invitees = [Invitee(certificate_number=f"OCOP-UBNDTBG-2026-{k + 1:05d}", holder=r.producer.name,
                        product_name=r.product.name, dossier_id=r.dossier_id,
                        producer_registration_number=r.producer.registration_number)
                for k, r in enumerate(received)]
    ceremony = CeremonyScheduled(ceremony_id=f"ceremony-{unique}", round_id=round_id,
                                 title="Lễ công bố sản phẩm OCOP tỉnh Bắc Giang năm 2026", on=day,
                                 at="08:30", place="Nhà văn hóa tỉnh", invitees=invitees)  # type: ignore[arg-type]
    app = build(notify_settings(infra, unique, topic_prefix, str(dev_keys[1]), mailbox), clock=clock)
    async with running(app, "http://notify"):
        await publish(mongo, infra, topic_prefix, unique, "intake",
                      [(r.dossier_id, r) for r in received])
        await eventually(lambda: _mails(mailbox, 3), what="the three receipts")
        await publish(mongo, infra, topic_prefix, unique, "certification",
                      [(round_id, ceremony)])
        await eventually(lambda: _mails(mailbox, 5), what="an invitation to each producer")
        await eventually(lambda: _settled(db, "ceremony.invitation", 2), what="the invitations recorded as sent")
        confirmations = await db["deliveries"].find({"template": "ceremony.confirmation"}).to_list()
        # the confirmations wait for their morning, in the service's time: none went early
        due = vietnam_time(day - timedelta(days=1), 8)
        assert [(d["status"], d["due_at"]) for d in confirmations] == [("pending", due)] * 2 and due > clock()

        clock.move_to(due + timedelta(minutes=1))
        app.state.notify.wake.set()
        await eventually(lambda: _mails(mailbox, 7), what="a confirmation request to each producer")
        await eventually(lambda: _settled(db, "ceremony.confirmation", 2), what="the confirmations recorded as sent")
        assert await app.state.notify.deliver_due() == 0 \
            and await db["deliveries"].count_documents({"due_key": {"$exists": True}}) == 0

    mails = mailbox.messages[3:]
    assert sorted(m["To"] for m in mails) == ["anlac@example.vn"] * 2 + ["donghung@example.vn"] * 2
    body = {(m["To"], m["Subject"].split()[0]): m.get_body(("plain",)).get_content() for m in mails}
    both = body[("donghung@example.vn", "Thư")]
    assert 'số OCOP-UBNDTBG-2026-00001 cho sản phẩm "Mật ong rừng Lục Nam"' in both
    assert 'số OCOP-UBNDTBG-2026-00002 cho sản phẩm "Miến dong Đông Hưng"' in both
    assert "OCOP-UBNDTBG-2026-00003" not in both
    confirmation = body[("donghung@example.vn", "Xác")]
    assert "OCOP-UBNDTBG-2026-00001" in confirmation and "OCOP-UBNDTBG-2026-00002" in confirmation
    one = body[("anlac@example.vn", "Thư")]
    assert 'để nhận giấy chứng nhận số OCOP-UBNDTBG-2026-00003 cho sản phẩm "Gà đồi Yên Thế".' in one
    assert "00001" not in one and "00002" not in one

    # certification keeps notify's notification.sent events and shows each invitee what it was sent
    sent = [e["data"] for e in await stored(db["events"], {"type": "notification.sent"})
            if e["data"]["about_event_type"] == "ceremony.scheduled"]
    shown = with_deliveries({**ceremony.model_dump(mode="json"), "scheduled_event_id": "e"}, sent)
    for invitee in shown["invitees"]:
        assert sorted(d["template"] for d in invitee["deliveries"]) == ["ceremony.confirmation",
                                                                         "ceremony.invitation"], invitee
    delivery = await db["deliveries"].find_one({"template": "ceremony.invitation", "address": "donghung@example.vn"})
    assert delivery["certificate_numbers"] == ["OCOP-UBNDTBG-2026-00001", "OCOP-UBNDTBG-2026-00002"]


async def _mails(mailbox: Mailbox, n: int) -> bool | None:
    assert len(mailbox.messages) <= n, [m["Subject"] for m in mailbox.messages]
    return len(mailbox.messages) == n or None


async def _settled(db: Any, template: str, n: int) -> bool | None:
    sent = await db["deliveries"].count_documents({"template": template, "status": "sent"})
    return sent == n or None
