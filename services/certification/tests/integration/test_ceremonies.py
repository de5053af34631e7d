"""Ceremonies: never in the past, once per round, date and place (and per Idempotency-Key), and readable with
their invitees and what notify sent them — learnt from notify's events on the real broker."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from binhchon_kit.contracts.notify import Channel, NotificationFailed, NotificationSent
from binhchon_kit.testing.fixtures import TopicReader, eventually
from certification.adapters.idempotency import STALE, fingerprint

pytestmark = pytest.mark.integration
TITLE = "Lễ công bố và trao giấy chứng nhận sản phẩm OCOP năm 2026"
PLACE = "Hội trường UBND tỉnh Bắc Giang"


async def issue_two(env, cert):
    await env.approve(env.result("dossier-1", product="Mật ong", registration="2400000001"),
                      env.result("dossier-2", product="Chè xanh", registration="2400000002"))

    async def two():
        body = (await cert.get("/registry.json")).json()
        return body["items"] if len(body["items"]) == 2 else None

    return await eventually(two, what="two certificates")


def ceremony(env, days_ahead=35, **over):
    return {"round_id": "round-1", "title": TITLE, "on": (env.clock() + timedelta(days=days_ahead)).isoformat(),
            "at": "08:00", "place": PLACE, **over}


async def test_a_ceremony_is_never_in_the_past_and_is_scheduled_once(env, infra, auth):
    sec = auth("sec", "secretariat")
    env.clock.hour = time(7, 0)  # early morning in Vietnam: a ceremony at 08:00 today is still ahead
    async with env.running() as cert:
        await issue_two(env, cert)

        yesterday = ceremony(env, days_ahead=-1)
        r = await cert.post("/ceremonies", json=yesterday, headers=sec)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "on" and r.json()["on"] == yesterday["on"]
        assert (env.clock() - timedelta(days=1)).strftime("%d/%m/%Y") in r.json()["detail"]

        first = await cert.post("/ceremonies", json=ceremony(env, days_ahead=0), headers=sec)  # today is fine
        assert first.status_code == 201, first.text
        again = await cert.post("/ceremonies", json=ceremony(env, days_ahead=0, place="  hội trường UBND TỈNH "
                                                                                  "Bắc Giang"), headers=sec)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        other_time = await cert.post("/ceremonies", json=ceremony(env, days_ahead=0, at="14:00"), headers=sec)
        assert other_time.status_code == 409 and other_time.json()["fields"] == ["at"]

        async with TopicReader(infra.kafka, f"{env.prefix}certification.events") as reader:
            await reader.wait_for(lambda es: any(e.type == "ceremony.scheduled" for e in es), what="the ceremony")
            await reader.wait_for(lambda es: sum(e.type == "certificate.issued" for e in es) == 2, what="certs")
            scheduled = [e for e in reader.events() if e.type == "ceremony.scheduled"]
        assert len(scheduled) == 1 and scheduled[0].data["ceremony_id"] == first.json()["ceremony_id"]
        assert await env.db["events"].count_documents({"type": "ceremony.scheduled"}) == 1


async def test_the_idempotency_key_gives_the_first_answer_and_refuses_another_request(env, auth):
    sec = auth("sec", "secretariat")
    async with env.running() as cert:
        items = await issue_two(env, cert)
        keyed = {**sec, "Idempotency-Key": "ceremony-2026-12-28"}
        first = await cert.post("/ceremonies", json=ceremony(env), headers=keyed)
        retried = await cert.post("/ceremonies", json=ceremony(env), headers=keyed)
        assert first.status_code == retried.status_code == 201 and retried.json() == first.json()
        r = await cert.post("/ceremonies", json=ceremony(env, place="Nhà văn hoá tỉnh"), headers=keyed)
        assert r.status_code == 422 and r.json()["field"] == "Idempotency-Key"
        assert await env.db["events"].count_documents({"type": "ceremony.scheduled"}) == 1
        # another caller's key of the same name is another key
        r = await cert.post("/ceremonies", json=ceremony(env), headers={**auth("cert", "certifier"),
                                                                        "Idempotency-Key": "ceremony-2026-12-28"})
        assert r.status_code == 200 and r.json() == first.json()
        r = await cert.post("/ceremonies", json=ceremony(env), headers={**sec, "Idempotency-Key": "bad key"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]

        # a request still running under a key (or one whose process died before answering, once stale)
        body = ceremony(env, place="Nhà văn hoá tỉnh")
        claim = {"_id": "sec\x1fk-2", "request": fingerprint("POST", "/ceremonies", {**body, "at": "08:00:00"}),
                 "answer": None}
        # "now" as the service's clock wrote it a moment ago, on the first key's claim
        now = (await env.db["idempotency_keys"].find_one({"_id": "sec\x1fceremony-2026-12-28"}))["claimed_at"]
        await env.db["idempotency_keys"].insert_one({**claim, "claimed_at": now})
        r = await cert.post("/ceremonies", json=body, headers={**sec, "Idempotency-Key": "k-2"})
        assert r.status_code == 409 and "in progress" in r.json()["detail"]
        await env.db["idempotency_keys"].replace_one({"_id": claim["_id"]}, {
            **claim, "claimed_at": now - STALE - timedelta(seconds=1)})
        r = await cert.post("/ceremonies", json=body, headers={**sec, "Idempotency-Key": "k-2"})
        assert r.status_code == 201, r.text

        # a revocation retried with its key: the first answer, not "already revoked"
        approver = auth("ubnd", "approver", authorities=("province:24",))
        ubnd = {**approver, "Idempotency-Key": "revoke-1"}
        path = f"/certificates/{items[0]['number']}/revocation"
        first = await cert.post(path, json={"reason": "Vi phạm"}, headers=ubnd)
        retried = await cert.post(path, json={"reason": "Vi phạm"}, headers=ubnd)
        assert first.status_code == retried.status_code == 201 and retried.json() == first.json()
        r = await cert.post(path, json={"reason": "Vi phạm"}, headers=approver)
        assert r.status_code == 409  # without the key, a second revocation is refused as before


async def test_ceremonies_are_listed_with_their_invitees_and_what_notify_sent(env, infra, auth):
    sec = auth("sec", "secretariat")
    async with env.running() as cert:
        await issue_two(env, cert)
        created = (await cert.post("/ceremonies", json=ceremony(env), headers=sec)).json()
        await cert.post("/ceremonies", json=ceremony(env, days_ahead=40, place="Nhà văn hoá tỉnh"), headers=sec)
        listed = (await cert.get("/ceremonies", params={"round_id": "round-1", "total": "true"}, headers=sec)).json()
        assert listed["total"] == 2 and listed["items"][0]["ceremony_id"] == created["ceremony_id"]
        assert (await cert.get("/ceremonies", params={"round_id": "round-9", "total": "true"},
                              headers=sec)).json()["total"] == 0
        assert (await cert.get("/ceremonies")).status_code == 401
        assert (await cert.get("/ceremonies", headers=auth("p", "applicant"))).status_code == 403
        assert (await cert.get("/ceremonies/ceremony-nope", headers=sec)).status_code == 404

        async with TopicReader(infra.kafka, f"{env.prefix}certification.events") as reader:
            events = await reader.wait_for(lambda es: any(e.type == "ceremony.scheduled" for e in es),
                                           what="the ceremony on the topic")
        about = next(e for e in events if e.data.get("ceremony_id") == created["ceremony_id"]).id

        def delivery(n, who, template, failed=False):
            common = {"delivery_id": f"d-{n}", "about_event_id": about, "about_event_type": "ceremony.scheduled",
                      "recipient": f"producer:{who}", "channel": Channel.EMAIL, "template": template, "attempts": 1}
            if failed:
                return NotificationFailed(**common, reason="550 mailbox unavailable")
            return NotificationSent(**common)

        # what notify publishes on notify.events, as notify does (its store, its relay), one stream a delivery;
        # delivery 1 also reported failed, after it was sent: sent stays
        sent = [delivery(1, "2400000001", "ceremony.invitation"), delivery(2, "2400000002", "ceremony.invitation",
                                                                            failed=True)]
        await env.publish("notify", "delivery", [(d, "round-1") for d in sent])
        await env.publish("notify", "delivery-again", [(delivery(1, "2400000001", "ceremony.invitation",
                                                                  failed=True), "round-1")])
        # the same event forged by another source: dead-lettered, never believed
        await env.publish("intruder", "delivery", [(delivery(3, "2400000002", "ceremony.confirmation"),
                                                     "round-1")])

        async def told():
            body = (await cert.get(f"/ceremonies/{created['ceremony_id']}", headers=sec)).json()
            return body if len(body["deliveries"]) == 2 else None

        await eventually(told, what="the deliveries in the ceremony")
        # the forged event comes last on the same partition: once it is dead-lettered, all before it were handled
        async with TopicReader(infra.kafka, f"{env.prefix}notify.events.dlq") as dlq:
            records = await dlq.wait_for_records(1)
        assert dict(records[0].headers)["dlq-reason"].decode().startswith(
            "untrusted event: source '/binhchon/intruder' is not /binhchon/notify")
        body = (await cert.get(f"/ceremonies/{created['ceremony_id']}", headers=sec)).json()
        assert [d["delivery_id"] for d in body["deliveries"]] == ["d-1", "d-2"]
        by_reg = {i["producer_registration_number"]: i for i in body["invitees"]}
        first, second = by_reg["2400000001"]["deliveries"], by_reg["2400000002"]["deliveries"]
        assert [(d["template"], d["status"]) for d in first] == [("ceremony.invitation", "sent")]
        assert [(d["template"], d["status"], d["reason"]) for d in second] == [
            ("ceremony.invitation", "failed", "550 mailbox unavailable")]
        assert {i["holder"] for i in body["invitees"]} == {"Hợp tác xã Đông Hưng"}


async def test_a_ceremony_today_at_an_hour_gone_by_is_refused_and_short_notice_is_said(env, auth):
    sec = auth("sec", "secretariat")
    env.clock.hour = time(9, 30)  # 09:30 in Vietnam, whatever the machine's zone
    async with env.running() as cert:
        await issue_two(env, cert)
        r = await cert.post("/ceremonies", json=ceremony(env, days_ahead=0, at="09:00"), headers=sec)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "at" and r.json()["fields"] == ["on", "at"] and "09:30" in r.json()["detail"]
        assert await env.db["events"].count_documents({"type": "ceremony.scheduled"}) == 0

        later_today = await cert.post("/ceremonies", json=ceremony(env, days_ahead=0, at="15:00"), headers=sec)
        assert later_today.status_code == 201, later_today.text
        assert [w["code"] for w in later_today.json()["warnings"]] == ["invitation_late", "confirmation_late"]
        in_two_days = await cert.post("/ceremonies", json=ceremony(env, days_ahead=2, place="Nhà văn hoá tỉnh"),
                                      headers=sec)
        assert in_two_days.status_code == 201
        assert [w["code"] for w in in_two_days.json()["warnings"]] == ["invitation_late"]
        assert "3 ngày" in in_two_days.json()["warnings"][0]["message"]
        in_time = await cert.post("/ceremonies", json=ceremony(env, days_ahead=3, place="Sân vận động tỉnh"),
                                  headers=sec)
        assert in_time.status_code == 201 and in_time.json()["warnings"] == []
