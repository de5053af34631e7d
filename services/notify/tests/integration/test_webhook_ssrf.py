"""Webhooks on the real broker and store cannot be turned inward, nor carry what agencies may not read (issue 13,
items 1 and 5; ADR 0028). Names are answered by a fake resolver given to notify as its resolver; the receivers are
real HTTP servers on 127.0.0.1, reachable only where a test's allow-list names that address."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.contracts.intake import DossierReceived, RoundOpened
from binhchon_kit.contracts.scoring import Rating, RescoreRequested, ResultApproved, ScoreAmended, ScoreSubmitted
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.infra import free_port
from binhchon_kit.testing.samples import dossier_body, round_body
from binhchon_kit.testing.stored_events import stored
from notify.main import build

from .support import Clock, posts_served, publish
from .test_notify_delivery import notify_settings

pytestmark = pytest.mark.integration

# what an internal port says to a stranger: it must never reach the delivery log
INTERNAL_ANSWER = "FerretDB: SCRAM authentication failed for user binhchon_notify"


class Names:
    """The fake resolver: names to the addresses the test sets, changed whenever it likes (DNS rebinding)."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names

    async def resolve(self, host: str, port: int) -> list[str]:
        if host not in self.names:
            raise OSError("Name or service not known")
        return self.names[host]


class Receiver:
    """Real HTTP endpoints: ``/ok`` 200, ``/moved`` 307 to ``/landing``, ``/internal`` 401 with an internal port's
    words; every request kept."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    async def hook(self, request: Request) -> Response:
        self.requests.append((request.url.path, dict(request.headers), await request.body()))
        path = request.url.path
        if path.endswith("/moved"):
            return Response(status_code=307, headers={"location": f"http://127.0.0.1:{self.port}/landing"})
        if path.endswith("/internal"):
            return Response(INTERNAL_ANSWER, status_code=401)
        return Response("ok")

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.requests]

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(b) for _, _, b in self.requests]

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Receiver]:
        async with posts_served(self.port, self.hook):
            yield self


@contextlib.asynccontextmanager
async def hanging_up() -> AsyncIterator[int]:
    """A port that accepts and closes without a word (what httpx calls "Server disconnected")."""
    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.close()

    server = await asyncio.start_server(close, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _round(unique: str, n: int = 1) -> tuple[str, RoundOpened]:
    round_id = f"round-{unique}-{n}"
    return round_id, RoundOpened.model_validate({**round_body(f"S{unique}{n}"), "round_id": round_id})


async def test_inward_urls_are_refused_when_registered(infra, unique, topic_prefix, dev_keys, auth, mailbox):
    names = Names({"hooks.so-ct.example.vn": ["127.0.0.1"], "meta.example.vn": ["169.254.169.254"],
                   "public.example.vn": ["203.113.131.1"]})
    agency = auth("agency-bg", "agency")
    settings = notify_settings(infra, unique, topic_prefix, str(dev_keys[1]), mailbox, notify_webhook_allow_http=True)
    async with running(build(settings, resolver=names), "http://notify") as notify:
        refused = {
            "http://169.254.169.254/latest/meta-data/": "169.254.169.254 is a cloud metadata address",
            "http://[::1]:8001/": "::1 is a loopback address",
            "http://127.0.0.1:27017/": "127.0.0.1 is a loopback address",
            "http://10.20.30.40/hook": "10.20.30.40 is a private address",
            "https://[::ffff:127.0.0.1]:8002/": "::ffff:7f00:1 is a loopback address (IPv4-mapped)",
            "https://[fd00:ec2::254]/": "fd00:ec2::254 is a cloud metadata address",
            "https://100.64.1.1/": "100.64.1.1 is a carrier-grade NAT address",
            "https://hooks.so-ct.example.vn/ocop": "hooks.so-ct.example.vn does not resolve to a public address",
            "https://meta.example.vn/": "meta.example.vn does not resolve to a public address",
        }
        for url, reason in refused.items():
            r = await notify.post("/subscriptions", headers=agency, json={"url": url})
            assert r.status_code == 422, (url, r.text)
            assert r.json()["field"] == "url" and r.json()["reason"] == reason, r.json()
        r = await notify.post("/subscriptions", headers=agency,
                              json={"url": "https://public.example.vn/ocop", "event_types": ["score.submitted"]})
        assert r.status_code == 422 and r.json()["field"] == "event_types"
        assert r.json()["unpublished"] == ["score.submitted"]
        r = await notify.post("/subscriptions", headers=auth("sec", "secretariat"),
                              json={"url": "https://public.example.vn/ocop"})
        assert r.status_code == 403
        made = await notify.post("/subscriptions", headers=agency, json={"url": "https://public.example.vn/ocop"})
        assert made.status_code == 201 and made.json()["owner"] == "agency-bg"
        listed = (await notify.get("/subscriptions", headers=agency)).json()["items"]
        assert [s["url"] for s in listed] == ["https://public.example.vn/ocop"]
        assert "secret" not in listed[0]
    # https only, unless the setting allows http
    async with running(build(notify_settings(infra, unique, topic_prefix, str(dev_keys[1]), mailbox),
                             resolver=names), "http://notify") as notify:
        r = await notify.post("/subscriptions", headers=agency, json={"url": "http://public.example.vn/ocop"})
        assert r.status_code == 422 and r.json()["reason"] == "the URL must be https"


async def test_a_name_rebound_to_loopback_is_refused_at_delivery_and_logged_without_its_answer(
        infra, mongo, unique, topic_prefix, dev_keys, auth, mailbox):
    receiver = Receiver()
    names = Names({"hooks.agency.test": ["203.113.131.1"]})  # public when registered
    settings = notify_settings(infra, unique, topic_prefix, str(dev_keys[1]), mailbox, notify_webhook_allow_http=True,
                               notify_max_attempts=1)
    async with receiver.serving(), running(build(settings, resolver=names), "http://notify") as notify:
        made = await notify.post("/subscriptions", headers=auth("agency-bg", "agency"), json={
            "url": f"http://hooks.agency.test:{receiver.port}/internal", "event_types": ["round.opened"]})
        assert made.status_code == 201
        names.names["hooks.agency.test"] = ["127.0.0.1"]  # then the name answers loopback, where FerretDB listens
        round_id, opened = _round(unique)
        await publish(mongo, infra, topic_prefix, unique, "intake", [(round_id, opened)])
        events = mongo[f"notify_{unique}"]["events"]

        async def failed():
            return await stored(events, {"type": "notification.failed"}) or None

        [event] = await eventually(failed, what="the delivery refused")

        async def recorded() -> dict[str, Any] | None:  # the outcome event first, then the delivery (ADR 0054)
            got = (await notify.get(f"/dossiers/{round_id}/deliveries", headers=auth("sec", "secretariat"))).json()
            return got if all(d["status"] == "failed" for d in got["items"]) else None

        log = await eventually(recorded, what="the delivery recorded failed")
    assert receiver.requests == []  # nothing was sent to the rebound address
    reason = "refused: hooks.agency.test does not resolve to a public address"
    assert event["data"]["reason"] == reason
    assert [(d["status"], d["last_error"]) for d in log["items"]] == [("failed", reason)]


async def test_redirects_are_not_followed_and_answers_show_their_class_only(
        infra, mongo, unique, topic_prefix, dev_keys, auth, mailbox):
    receiver = Receiver()
    names = Names({"receiver.test": ["127.0.0.1"]})
    settings = notify_settings(infra, unique, topic_prefix, str(dev_keys[1]), mailbox, notify_webhook_allow_http=True,
                               notify_webhook_allowed_networks="127.0.0.1/32", notify_max_attempts=1)
    agency = auth("agency-bg", "agency")
    async with receiver.serving(), hanging_up() as silent, \
            running(build(settings, resolver=names), "http://notify") as notify:
        urls = {"moved": f"http://127.0.0.1:{receiver.port}/moved",
                "internal": f"http://127.0.0.1:{receiver.port}/internal",
                "hangs up": f"http://127.0.0.1:{silent}/", "ok": f"http://receiver.test:{receiver.port}/ok"}
        subs = {}
        for name, url in urls.items():
            r = await notify.post("/subscriptions", headers=agency, json={"url": url, "event_types": ["round.opened"]})
            assert r.status_code == 201, r.text
            subs[f"agency:{r.json()['id']}"] = name
        round_id, opened = _round(unique)
        await publish(mongo, infra, topic_prefix, unique, "intake", [(round_id, opened)])
        events = mongo[f"notify_{unique}"]["events"]

        async def finished():
            done = await stored(events, {"type": {"$in": ["notification.sent", "notification.failed"]}})
            return done if len(done) == 4 else None

        done = await eventually(finished, what="four deliveries finished")
        log = (await notify.get(f"/dossiers/{round_id}/deliveries", headers=auth("sec", "secretariat"))).json()
    outcome = {subs[e["data"]["recipient"]]: (e["type"], e["data"].get("reason")) for e in done}
    assert outcome == {"moved": ("notification.failed", "answered 3xx (redirects are not followed)"),
                       "internal": ("notification.failed", "answered 4xx"),
                       "hangs up": ("notification.failed", "the exchange failed"),
                       "ok": ("notification.sent", None)}
    assert sorted(receiver.paths()) == ["/internal", "/moved", "/ok"]  # never /landing
    # the name was connected to at the address checked, and told its own name
    [ok_headers] = [h for p, h, _ in receiver.requests if p == "/ok"]
    assert ok_headers["host"] == f"receiver.test:{receiver.port}"
    shown = json.dumps(log, default=str) + json.dumps(done, default=str)
    assert "FerretDB" not in shown and "SCRAM" not in shown and "disconnected" not in shown.lower()


async def test_pause_resume_and_delete_stop_deliveries_and_only_the_owner_may(
        infra, mongo, unique, topic_prefix, dev_keys, auth, mailbox):
    receiver = Receiver()
    settings = notify_settings(infra, unique, topic_prefix, str(dev_keys[1]), mailbox, notify_webhook_allow_http=True,
                               notify_webhook_allowed_networks="127.0.0.1/32")
    mine, theirs = auth("agency-bg", "agency"), auth("agency-hn", "agency")
    deliveries = mongo[f"notify_{unique}"]["deliveries"]
    async with receiver.serving(), running(build(settings), "http://notify") as notify:
        sub = (await notify.post("/subscriptions", headers=mine, json={
            "url": f"http://127.0.0.1:{receiver.port}/bg/ok", "event_types": ["round.opened"]})).json()
        other = (await notify.post("/subscriptions", headers=theirs, json={
            "url": f"http://127.0.0.1:{receiver.port}/hn/ok", "event_types": ["round.opened"]})).json()
        # another agency neither sees nor touches it
        assert [s["id"] for s in (await notify.get("/subscriptions", headers=theirs)).json()["items"]] == [other["id"]]
        for path in (f"/subscriptions/{sub['id']}/pause", f"/subscriptions/{sub['id']}/resume"):
            assert (await notify.post(path, headers=theirs)).status_code == 404
        assert (await notify.delete(f"/subscriptions/{sub['id']}", headers=theirs)).status_code == 404
        admin_sees = (await notify.get("/subscriptions", headers=auth("ops", "admin"))).json()["items"]
        assert {s["id"] for s in admin_sees} == {sub["id"], other["id"]}

        async def told(agency: str, round_id: str) -> None:
            async def arrived():
                return any(p.startswith(f"/{agency}/") and e["data"]["round_id"] == round_id
                           for p, e in zip(receiver.paths(), receiver.events(), strict=True)) or None
            await eventually(arrived, what=f"{round_id} at {agency}")

        paused = await notify.post(f"/subscriptions/{sub['id']}/pause", headers=mine)
        assert paused.status_code == 200 and paused.json()["paused"] is True
        first, opened = _round(unique, 1)
        await publish(mongo, infra, topic_prefix, unique, "intake", [(first, opened)])
        await told("hn", first)  # the other subscription got it: the event was handled, nothing queued for ours
        assert await deliveries.count_documents({"recipient_id": f"agency:{sub['id']}"}) == 0

        resumed = await notify.post(f"/subscriptions/{sub['id']}/resume", headers=mine)
        assert resumed.status_code == 200 and resumed.json()["paused"] is False
        second, opened = _round(unique, 2)
        await publish(mongo, infra, topic_prefix, unique, "intake", [(second, opened)])
        await told("bg", second)

        assert (await notify.delete(f"/subscriptions/{sub['id']}", headers=mine)).status_code == 204
        third, opened = _round(unique, 3)
        await publish(mongo, infra, topic_prefix, unique, "intake", [(third, opened)])
        await told("hn", third)
        assert (await notify.get("/subscriptions", headers=mine)).json()["items"] == []
        assert (await notify.post(f"/subscriptions/{sub['id']}/resume", headers=mine)).status_code == 404
    ours = [e["data"]["round_id"] for p, e in zip(receiver.paths(), receiver.events(), strict=True)
            if p.startswith("/bg/")]
    assert ours == [second]


async def test_sheets_never_reach_a_subscriber_of_every_type_and_receipts_go_without_personal_data(
        infra, mongo, unique, topic_prefix, dev_keys, auth, mailbox):
    receiver = Receiver()
    clock = Clock()
    settings = notify_settings(infra, unique, topic_prefix, str(dev_keys[1]), mailbox, notify_webhook_allow_http=True,
                               notify_webhook_allowed_networks="127.0.0.1/32")
    dossier = f"dossier-{unique}"
    body = dossier_body()
    received = DossierReceived(dossier_id=dossier, round_id="round-s", round_code="RS", programme="OCOP",
                               level="province", receipt_number="RS-00001", received_at=clock(),
                               check_due_date=clock.today(), producer=body["producer"], product=body["product"],
                               documents=body["documents"])
    sheet = dict(sheet_id="s-1", member_id="gk-2", scoring_round=1, rulebook_id="ocop-2023", rulebook_version=1,
                 score_sheet="general", scores=[{"code": "A1", "points": 7.5}], total=81.25)
    decision = DecisionReference(number="77/QĐ-UBND", date=date(2026, 12, 20), signer="Trần Văn Ký",
                                 authority="UBND tỉnh Bắc Giang")
    approved = ResultApproved(
        dossier_id=dossier, round_id="round-s", programme="OCOP", level="province", rulebook_id="ocop-2023",
        rating=Rating(stars=4, recognised=True, label="4 sao"), points=78.5, decision=decision, goes_up_a_level=False,
        product_name="Mật ong rừng Lục Nam", producer_name="HTX Đông Hưng", producer_address="Thôn Đồng Mới",
        producer_registration_number="2400123456")
    async with receiver.serving(), running(build(settings, clock=clock), "http://notify") as notify:
        every_type = await notify.post("/subscriptions", headers=auth("agency-bg", "agency"),
                                       json={"url": f"http://127.0.0.1:{receiver.port}/all/ok"})
        assert every_type.status_code == 201 and every_type.json()["event_types"] == []
        await publish(mongo, infra, topic_prefix, unique, "intake", [(dossier, received)])
        # the sheets, then a decision on the same dossier (one partition: read after them)
        await publish(mongo, infra, topic_prefix, unique, "scoring", [
            (dossier, ScoreSubmitted(**sheet)),
            (dossier, ScoreAmended(**{**sheet, "sheet_id": "s-2"}, amends_sheet_id="s-1", reason="nhầm điểm")),
            (dossier, RescoreRequested(scoring_round=1, totals={"gk-1": 60, "gk-2": 81.25}, spread=21.25,
                                       threshold=10)),
            (dossier, approved)])

        async def both():
            types = [e["type"] for e in receiver.events()]
            return types if {"dossier.received", "result.approved"} <= set(types) else None

        await eventually(both, what="the receipt and the decision at the agency")
    types = [e["type"] for e in receiver.events()]
    assert sorted(types) == ["dossier.received", "result.approved"]
    assert await mongo[f"notify_{unique}"]["deliveries"].count_documents(
        {"about_event_type": {"$in": ["score.submitted", "score.amended", "scoring.rescore_requested"]},
         "channel": "webhook"}) == 0
    raw = b"".join(b for _, _, b in receiver.requests).decode()
    producer = body["producer"]
    for personal in (producer["contact"]["person"], producer["contact"]["phone"], producer["contact"]["email"],
                     producer["registration_number"], producer["address"]["street"], "RS-00001", "gk-2", "81.25"):
        assert personal not in raw, personal
