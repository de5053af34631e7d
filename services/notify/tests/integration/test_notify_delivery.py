"""Notify on the real broker and server, with a real SMTP server in-process and a real webhook receiver."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import standardwebhooks
from cloudevents.core.bindings import http as http_binding
from cloudevents.v1 import http as cloudevents_v1_http
from starlette.requests import Request
from starlette.responses import Response

from binhchon_kit.contracts.certification import CeremonyScheduled, Invitee
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import listed, sample_contents, sample_pdf, upload_documents
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.infra import free_port
from binhchon_kit.testing.mail import Mailbox
from binhchon_kit.testing.personal import intake_keys
from binhchon_kit.testing.samples import dossier_body, round_body
from binhchon_kit.testing.stored_events import stored
from intake.main import IntakeSettings
from intake.main import build as build_intake
from notify.main import NotifySettings, build

from .support import Clock, posts_served, publish, vietnam_time

pytestmark = pytest.mark.integration




def notify_settings(infra, unique, prefix, key, mailbox, name="notify", **over: Any) -> NotifySettings:
    return NotifySettings(service_name=name, mongodb_url=infra.mongodb, mongodb_database=f"notify_{unique}",
                          kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=prefix, auth_public_keys_file=key,
                          smtp_host="127.0.0.1", smtp_port=mailbox.port, notify_poll_seconds=0.2,
                          notify_backoff_seconds=0.1, **over)


async def test_a_dossier_life_in_vietnamese_mail_once_even_after_a_replay(infra, mongo, unique, topic_prefix,
                                                                          dev_keys, auth, token, mailbox):
    key = str(dev_keys[1])
    intake_cfg = IntakeSettings(mongodb_url=infra.mongodb, mongodb_database=f"intake_{unique}",
                                kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix,
                                auth_public_keys_file=key)
    sec = auth("sec", "secretariat")
    clock = Clock()  # intake and notify share it: the round's dates are Vietnam's today, not the machine's
    intake_app = build_intake(intake_cfg, clock=clock)
    # the producer's e-mail address is sealed in dossier.received: notify asks intake for its key (ADR 0035)
    keys = intake_keys(intake_app, token("notify", "service"))
    async with running(intake_app, "http://intake") as intake, \
            running(build(notify_settings(infra, unique, topic_prefix, key, mailbox), clock=clock, key_client=keys),
                    "http://notify") as notify:
        rnd = (await intake.post("/rounds", json=round_body(f"M{unique}", today=clock.today()), headers=sec)).json()
        declaration = sample_pdf("Ban tu cong bo chat luong")
        await upload_documents(intake, auth("htx", "applicant"),
                               [*sample_contents(), ("cong-bo.pdf", declaration)])
        receipt = (await intake.post(f"/rounds/{rnd['round_id']}/dossiers", json=dossier_body(),
                                     headers=auth("htx", "applicant"))).json()
        dossier = receipt["dossier_id"]
        await eventually(lambda: _count(mailbox, 1), what="the receipt mail")
        # the secretariat answers a minute later, and so on: the events' times (the services' clock, ADR 0051)
        # order the deliveries list, so they must not all fall on one instant
        clock.move_to(clock.now + timedelta(minutes=1))
        r = await intake.post(f"/dossiers/{dossier}/supplement-request", headers=sec, json={
            "items": [{"description": "Bản tự công bố chất lượng sản phẩm"}], "reason": "Thiếu hồ sơ chất lượng"})
        assert r.status_code == 201
        await eventually(lambda: _count(mailbox, 2), what="the supplement request mail")
        clock.move_to(clock.now + timedelta(minutes=1))
        doc = listed("quality_declaration", "cong-bo.pdf", declaration)
        await intake.post(f"/dossiers/{dossier}/supplements", json={"documents": [doc]},
                          headers=auth("htx", "applicant"))
        await intake.post(f"/dossiers/{dossier}/accept", headers=sec,
                          json={"product_group": "thực phẩm", "sample_code": "TP-01"})
        await eventually(lambda: _count(mailbox, 3), what="the accepted mail")
        clock.move_to(clock.now + timedelta(minutes=1))

        # the rest of its life, from scoring and certification (their events, on their topics)
        from binhchon_kit.contracts.certification import CertificateIssued
        from binhchon_kit.contracts.common import DecisionReference
        from binhchon_kit.contracts.scoring import Rating, ResultApproved

        decision = DecisionReference(number="77/QĐ-UBND", date=date(2026, 12, 20), signer="Trần Văn Ký",
                                     authority="UBND tỉnh Bắc Giang")
        clock.move_to(clock.now + timedelta(minutes=1))
        await publish(mongo, infra, topic_prefix, unique, "scoring", [(dossier, ResultApproved(
            dossier_id=dossier, round_id=rnd["round_id"], programme="OCOP", level="province", rulebook_id="ocop-2023",
            rating=Rating(stars=4, recognised=True, label="4 sao"), points=78.5, decision=decision,
            goes_up_a_level=False, product_name="Mật ong rừng Lục Nam", producer_name="HTX Đông Hưng"))], clock=clock)
        await eventually(lambda: _count(mailbox, 4), what="the result mail")
        clock.move_to(clock.now + timedelta(minutes=1))
        await publish(mongo, infra, topic_prefix, unique, "certification", [(dossier,
            CertificateIssued(certificate_id="certificate-1", number="OCOP-UBNDTBG-2026-00001", dossier_id=dossier,
                              round_id=rnd["round_id"], programme="OCOP", level="province",
                              product_name="Mật ong rừng Lục Nam",
                              holder={"name": "HTX Đông Hưng", "address": "Xã Đông Hưng"}, rating_label="4 sao",
                              stars=4, points=78.5, decision=decision, issued_on=date(2026, 12, 21),
                              valid_until=date(2029, 12, 21), issuer="UBND tỉnh Bắc Giang", rulebook_id="ocop-2023",
                              result_event_id="r", signature="s", key_id="k"))], clock=clock)
        await eventually(lambda: _count(mailbox, 5), what="the certificate mail")

        texts = mailbox.texts()
        assert [t[0] for t in texts] == ["htx.donghung@example.vn"] * 5
        assert texts[3][1] == 'Kết quả đánh giá sản phẩm "Mật ong rừng Lục Nam": 4 sao'
        assert "Quyết định số 77/QĐ-UBND ngày 20/12/2026" in texts[3][2] and "78,50 điểm" in texts[3][2]
        assert texts[4][1] == "Giấy chứng nhận số OCOP-UBNDTBG-2026-00001"
        assert "/verify/OCOP-UBNDTBG-2026-00001" in texts[4][2] and "21/12/2029" in texts[4][2]
        assert texts[0][1] == f"[{receipt['round_code']}] Giấy biên nhận hồ sơ số {receipt['receipt_number']}"
        assert "Mật ong rừng Lục Nam" in texts[0][2] and "Ngày hẹn trả kết quả kiểm tra hồ sơ" in texts[0][2]
        assert texts[1][1].endswith("Đề nghị bổ sung hồ sơ") and "Bản tự công bố chất lượng sản phẩm" in texts[1][2]
        assert texts[2][1].endswith("Hồ sơ đã được tiếp nhận hợp lệ") and "TP-01" in texts[2][2]
        html = mailbox.messages[0].get_body(("html",)).get_content()
        assert "Mật ong rừng Lục Nam" in html

        async def all_sent() -> list[dict[str, Any]] | None:
            # a mail is recorded sent after it is caught (its notification.sent, then the delivery, ADR 0054)
            items = (await notify.get(f"/dossiers/{dossier}/deliveries", headers=sec)).json()["items"]
            return items if all(d["status"] == "sent" for d in items) else None

        log = await eventually(all_sent, what="the five mails recorded sent")
        assert [d["template"] for d in log] == ["dossier.received", "dossier.supplement_requested",
                                                "dossier.accepted", "result.approved", "certificate.issued"]
        inbox = (await notify.get("/inbox/producer:2400123456", params={"total": "true"}, headers=sec)).json()
        assert len(inbox["items"]) == 5 and inbox["total"] == 5 and inbox["next"] is None

    # a replay from offset 0 by a fresh consumer group sends nothing again
    db = mongo[f"notify_{unique}"]
    replay = build(notify_settings(infra, unique, topic_prefix, key, mailbox, name="notify-replay"), clock=clock)
    async with running(replay, "http://replay"):
        async def replayed():
            read = [await db["inbox"].count_documents({"handler": f"notify-replay.{source}"})
                    for source in ("intake", "scoring", "certification")]
            return (read[0] >= 5 and read[1] >= 1 and read[2] >= 1) or None

        await eventually(replayed, what="the replay to read every topic")
        # every event was handled and found its deliveries made before: nothing is queued, so nothing can go
        assert await db["deliveries"].count_documents({"due_key": {"$exists": True}}) == 0
        assert await db["deliveries"].count_documents({"status": "sent"}) == 5
        assert await db["deliveries"].count_documents({}) == 5
        assert await replay.state.notify.deliver_due() == 0
    assert len(mailbox.messages) == 5
    sent = await db["events"].count_documents({"type": "notification.sent"})
    assert sent == 5


async def _count(mailbox: Mailbox, n: int) -> bool | None:
    assert len(mailbox.messages) <= n, [m["Subject"] for m in mailbox.messages]
    return len(mailbox.messages) == n or None


async def _settled(db: Any) -> bool | None:
    """Nothing left to send: every delivery sent (or cancelled), nothing due. No later pass can send again."""
    pending = await db["deliveries"].count_documents({"status": "pending"})
    return (pending == 0 and await db["deliveries"].count_documents({"due_key": {"$exists": True}}) == 0) or None


class Receiver:
    """A webhook receiver that fails its first ``failures`` requests, then answers 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.paths: list[str] = []  # of each request
        self.port = free_port()

    async def hook(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        self.paths.append(request.url.path)
        seen = sum(1 for h, _ in self.requests if h["webhook-id"] == request.headers["webhook-id"])
        if request.url.path.endswith("/always-down") or seen <= self.failures:
            return Response("no", status_code=503)
        return Response("ok")

    @contextlib.asynccontextmanager
    async def serving(self):
        async with posts_served(self.port, self.hook):
            yield self


async def test_webhooks_signed_retried_and_given_up(infra, mongo, unique, topic_prefix, dev_keys, auth, mailbox):
    key = str(dev_keys[1])
    receiver = Receiver(failures=2)
    admin = auth("admin", "admin")
    async with receiver.serving(), running(build(notify_settings(
            infra, unique, topic_prefix, key, mailbox, notify_max_attempts=4, notify_webhook_allow_http=True,
            notify_webhook_allowed_networks="127.0.0.1/32")), "http://notify") as notify:
        ok = (await notify.post("/subscriptions", headers=admin, json={
            "url": f"http://127.0.0.1:{receiver.port}/hooks/ok", "event_types": ["round.opened"]})).json()
        down = (await notify.post("/subscriptions", headers=admin, json={
            "url": f"http://127.0.0.1:{receiver.port}/hooks/always-down", "event_types": ["round.opened"],
            "province_codes": []})).json()
        from binhchon_kit.contracts.intake import RoundOpened

        opened = RoundOpened.model_validate({**round_body(f"W{unique}"), "round_id": f"round-{unique}"})
        await publish(mongo, infra, topic_prefix, unique, "intake", [(f"round-{unique}", opened)])
        events = mongo[f"notify_{unique}"]["events"]

        async def both_finished():
            sent = await events.count_documents({"type": "notification.sent"})
            failed = await events.count_documents({"type": "notification.failed"})
            return (sent, failed) if sent == 1 and failed == 1 else None

        await eventually(both_finished, timeout=60, what="one delivery sent and one given up")
        [sent] = await stored(events, {"type": "notification.sent"})
        to_ok = [(h, b) for h, b in receiver.requests if h["webhook-id"] == sent["data"]["delivery_id"]]
        headers, body = to_ok[-1]
        # what an agency runs on every delivery, retries included: Standard Webhooks' library and the CloudEvents
        # SDK's HTTP binding (its current API and the 1.x one), nothing of ours
        assert ok["secret"].startswith("whsec_") and down["secret"].startswith("whsec_")
        secrets = {"/hooks/ok": ok["secret"], "/hooks/always-down": down["secret"]}
        assert len(receiver.requests) == 3 + 4
        for (each_headers, each_body), path in zip(receiver.requests, receiver.paths, strict=True):
            standardwebhooks.Webhook(secrets[path]).verify(each_body, each_headers)
            event = http_binding.from_http_event(http_binding.HTTPMessage(headers=each_headers, body=each_body))
            assert event.get_type() == "round.opened" and event.get_data()["round_id"] == f"round-{unique}"
            assert event.get_id() == cloudevents_v1_http.from_http(each_headers, each_body)["id"]
            assert each_headers["content-type"].startswith("application/cloudevents+json")
        forged = {**headers, "webhook-signature": standardwebhooks.Webhook(down["secret"]).sign(
            headers["webhook-id"], datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC), body.decode())}
        with pytest.raises(standardwebhooks.WebhookVerificationError):  # another subscription's secret
            standardwebhooks.Webhook(ok["secret"]).verify(body, forged)
        [failed] = await stored(events, {"type": "notification.failed"})
        assert failed["data"]["attempts"] == 4 and failed["data"]["reason"] == "answered 5xx"
        assert failed["data"]["recipient"] == f"agency:{down['id']}"
        assert sent["data"]["recipient"] == f"agency:{ok['id']}" and sent["data"]["attempts"] == 3
    # the 'ok' endpoint got the event until it answered 200, and never after
    ok_hits = [h for h, _ in receiver.requests if h["webhook-id"] == sent["data"]["delivery_id"]]
    assert len(ok_hits) == 3  # two failures, then the one that succeeded


async def test_ceremony_reminders_due_while_down_are_sent_once_by_two_replicas(infra, mongo, unique, topic_prefix,
                                                                                dev_keys, mailbox):
    key = str(dev_keys[1])
    from binhchon_kit.contracts.intake import DossierReceived

    received = dossier_body()
    clock = Clock()
    ceremony_day = clock.today() + timedelta(days=10)  # Vietnam's day: the service dates the mails by it
    await publish(mongo, infra, topic_prefix, unique, "intake", [(f"dossier-{unique}",
                  DossierReceived(dossier_id=f"dossier-{unique}", round_id="round-c", round_code="RC",
                                  programme="OCOP", level="province", receipt_number="RC-00001",
                                  received_at=clock(), check_due_date=clock.today(),
                                  producer=received["producer"], product=received["product"],
                                  documents=received["documents"]))])
    ceremony = CeremonyScheduled(
        ceremony_id="ceremony-1", round_id="round-c", title="Lễ công bố sản phẩm OCOP tỉnh Bắc Giang năm 2026",
        on=ceremony_day, at="08:30", place="Nhà văn hóa tỉnh",
        invitees=[Invitee(certificate_number="OCOP-UBNDTBG-2026-00001", holder="HTX Đông Hưng",
                          product_name="Mật ong rừng Lục Nam", dossier_id=f"dossier-{unique}")])
    first = build(notify_settings(infra, unique, topic_prefix, key, mailbox), clock=clock)
    async with running(first, "http://first"):
        await publish(mongo, infra, topic_prefix, unique, "certification",
                      [("round-c", ceremony)])

        async def queued():
            deliveries = mongo[f"notify_{unique}"]["deliveries"]
            return await deliveries.count_documents({"about_event_type": "ceremony.scheduled"}) == 2 or None

        await eventually(queued, what="the two reminders stored")
        await eventually(lambda: _count(mailbox, 1), what="the receipt mail")
    assert len(mailbox.messages) == 1  # the reminders are not due yet; then the service is down while they fall due

    # the morning before the ceremony, past the confirmation request's 08:00 in Vietnam
    clock.move_to(vietnam_time(ceremony_day - timedelta(days=1), 9))
    replicas = [build(notify_settings(infra, unique, topic_prefix, key, mailbox), clock=clock) for _ in range(2)]
    async with running(replicas[0], "http://a"), running(replicas[1], "http://b"):
        await eventually(lambda: _count(mailbox, 3), what="the invitation and the confirmation request")
        await eventually(lambda: _settled(mongo[f"notify_{unique}"]), what="both recorded as sent")
        for _ in range(3):  # more passes of either replica find nothing due
            assert await replicas[0].state.notify.deliver_due() == 0
            assert await replicas[1].state.notify.deliver_due() == 0
    subjects = sorted(m["Subject"] for m in mailbox.messages[1:])
    assert len(mailbox.messages) == 3 and len(subjects) == 2
    assert subjects[0].startswith("Thư mời dự Lễ công bố sản phẩm OCOP")
    assert subjects[1].startswith("Xác nhận tham dự Lễ công bố")
    body = next(m for m in mailbox.messages if m["Subject"].startswith("Thư mời")).get_body(("plain",)).get_content()
    assert "OCOP-UBNDTBG-2026-00001" in body and ceremony_day.strftime("%d/%m/%Y") in body


async def test_judges_who_have_not_scored_are_reminded_once(infra, mongo, unique, topic_prefix, dev_keys, mailbox):
    from binhchon_kit.contracts.intake import RoundOpened
    from binhchon_kit.contracts.scoring import PanelFormed, ScoreSubmitted, ScoringOpened

    key = str(dev_keys[1])
    clock = Clock()
    closes = clock.today() + timedelta(days=6)
    body = round_body(f"J{unique}", today=clock.today())
    body["schedule"]["scoring_closes"] = closes.isoformat()
    round_id = f"round-{unique}"
    members = [{"id": f"gk-{k}", "name": f"Giám khảo {k}", "organisation": "Sở Công Thương",
                "email": f"gk{k}@example.vn", "role": "chair" if k == 1 else "member"} for k in range(1, 4)]
    opened = ScoringOpened(dossier_id=f"dossier-{unique}", round_id=round_id, programme="OCOP", level="province",
                           rulebook_id="ocop-2023", rulebook_version=1, sheet_id="general", product_group="thực phẩm",
                           product_name="Miến dong Sơn Động", producer_name="HTX Sơn Động", sample_code="TP-07")
    sheet = ScoreSubmitted(sheet_id="s-1", member_id="gk-2", scoring_round=1, rulebook_id="ocop-2023",
                           rulebook_version=1, score_sheet="general", scores=[], total=80)
    async with running(build(notify_settings(infra, unique, topic_prefix, key, mailbox), clock=clock),
                       "http://notify"):
        await publish(mongo, infra, topic_prefix, unique, "intake", [
            (round_id, RoundOpened.model_validate({**body, "round_id": round_id}))])
        await publish(mongo, infra, topic_prefix, unique, "scoring", [
            (round_id, PanelFormed(panel_id="p", round_id=round_id, name="Hội đồng", members=members,
                                                   quorum={"fraction": 0.75}, sessions=["dossier"]))])

        async def panel_known():
            return await mongo[f"notify_{unique}"]["panels"].count_documents({}) == 1 or None

        await eventually(panel_known, what="the panel")
        await publish(mongo, infra, topic_prefix, unique, "scoring", [
            (f"dossier-{unique}", opened), (f"dossier-{unique}", sheet)])

        async def cancelled():
            n = await mongo[f"notify_{unique}"]["deliveries"].count_documents({"status": "cancelled"})
            return n == 1 or None

        await eventually(cancelled, what="gk-2's reminder cancelled once they scored")
        await eventually(lambda: _count(mailbox, 3), what="the three assignment mails")
    # the morning before scoring closes, past the reminders' 08:00 in Vietnam
    clock.move_to(vietnam_time(closes - timedelta(days=1), 8, 30))
    again = build(notify_settings(infra, unique, topic_prefix, key, mailbox), clock=clock)
    async with running(again, "http://x"):
        await eventually(lambda: _count(mailbox, 5), what="the reminders")
        await eventually(lambda: _settled(mongo[f"notify_{unique}"]), what="every reminder recorded as sent")
        assert await again.state.notify.deliver_due() == 0
    reminders = [m for m in mailbox.messages if m["Subject"].startswith("Nhắc chấm điểm")]
    assert sorted(m["To"] for m in reminders) == ["gk1@example.vn", "gk3@example.vn"]
    assert "Miến dong Sơn Động" in reminders[0].get_body(("plain",)).get_content()
