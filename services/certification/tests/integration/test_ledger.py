"""Prizes and judges' fees (ADR 0050), driven as the southern region's plan runs them (seed 001): a region round's
results approved, its panel and who sat on it learnt from scoring.events on the real broker, the schedule set
late, awards granted once (a result delivered three times), paid, fees owed and paid, the ledger's totals
checked against sums made by hand; then a recognised product displayed at the fair and shown in the registry."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from binhchon_kit.contracts.common import DecisionReference, Level, Programme
from binhchon_kit.contracts.scoring import (
    MemberRole,
    PanelFormed,
    PanelMember,
    Quorum,
    Rating,
    ResultApproved,
    ScoringCompleted,
    Session,
)
from binhchon_kit.testing.fixtures import TopicReader, eventually

pytestmark = pytest.mark.integration
ROUND = "cnnttb-mien-nam-2024"
DECISION = DecisionReference(number="512/QĐ-CTĐP", date=date(2026, 11, 12), signer="Nguyễn Văn Thịnh",
                             authority="Cục Công Thương địa phương", authority_id="region:south")
MEMBERS = [("gk-chu-tich", "Trần Văn Chủ", MemberRole.CHAIR), ("gk-1", "Lê Thị Một", MemberRole.MEMBER),
           ("gk-2", "Phạm Văn Hai", MemberRole.MEMBER), ("gk-3", "Võ Thị Ba", MemberRole.MEMBER),
           ("thu-ky", "Đỗ Thư Ký", MemberRole.SECRETARY)]
SESSIONS = [Session.DOSSIER, Session.SAMPLES, Session.FIELD_VISIT]
PRIZE, FEE = 5_000_000, 1_500_000  # đồng: what the Cục budgets per product recognised and per judge's session
# (dossier, product, producer, points, recognised at region level, who scored it)
DOSSIERS = [("kg-001", "Nước mắm Phú Quốc cá cơm", "Cơ sở Hưng Thịnh", 86.5, True, ("gk-chu-tich", "gk-1", "gk-2")),
            ("ct-014", "Chiếu cói Cần Thơ", "HTX Thới Long", 81.0, True, ("gk-chu-tich", "gk-1", "gk-3")),
            ("bt-007", "Bánh tráng Mỹ Lồng", "Cơ sở Ba Liên", 77.25, True, ("gk-chu-tich", "gk-2", "gk-3")),
            ("dt-021", "Máy tuốt lúa mini", "Cơ khí Tân Hồng", 74.0, False, ("gk-chu-tich", "gk-1", "gk-2")),
            ("kg-031", "Hồ tiêu Phú Quốc", "HTX Tiêu Suối Đá", 83.0, True, ("gk-chu-tich", "gk-1", "gk-2"))]


def approved(dossier: str, product: str, producer: str, points: float, recognised: bool) -> ResultApproved:
    return ResultApproved(
        dossier_id=dossier, round_id=ROUND, programme=Programme.CNNTTB, level=Level.REGION,
        rulebook_id="cnnttb-2018", rating=Rating(recognised=recognised, label="Đạt" if recognised else "Đề nghị"),
        points=points, decision=DECISION, goes_up_a_level=not recognised,
        next_level=None if recognised else Level.NATIONAL, product_name=product, producer_name=producer,
        producer_address="Tỉnh Kiên Giang", province_code="91", certificate_validity_months=None,
        producer_registration_number=f"17{dossier[-3:]}00001")


def completed(dossier: str, points: float, recognised: bool, judges: tuple[str, ...]) -> ScoringCompleted:
    return ScoringCompleted(
        dossier_id=dossier, round_id=ROUND, rulebook_id="cnnttb-2018", rulebook_version=1, scoring_round=1,
        average_total=points, rounding="2 chữ số", part_averages=[], totals=dict.fromkeys(judges, points),
        outliers=[], passed=True, rating_label="Đạt", mandatory=[], recognised_at_level=recognised,
        goes_up_a_level=not recognised, spread=0, spread_exceeded=False)


PANEL = PanelFormed(panel_id="panel-mien-nam", round_id=ROUND, name="Ban Giám khảo khu vực phía Nam 2024",
                    members=[PanelMember(id=i, name=n, organisation="Cục CTĐP", role=r) for i, n, r in MEMBERS],
                    quorum=Quorum(), sessions=SESSIONS)


async def redeliver(infra, topic: str, records, times: int) -> None:
    """The broker delivers these records again (a producer's retry, a rebalance): the same bytes and headers,
    signature and all, written by scoring's own principal."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, **infra.kafka_client("scoring"))
    await producer.start()
    try:
        for _ in range(times):
            for r in records:
                await producer.send_and_wait(topic, value=r.value, key=r.key, headers=list(r.headers))
    finally:
        await producer.stop()


async def test_the_southern_regions_prizes_and_fees_are_owed_once_paid_and_totalled(env, infra, auth):
    sec, auditor = auth("cuc-ctdp", "secretariat"), auth("kiem-toan", "auditor")
    async with env.running() as cert:
        # scoring's facts, before any schedule: the panel, four completed dossiers, their results
        await env.publish("scoring", "panel", [(PANEL, ROUND)])
        first = DOSSIERS[:4]
        await env.publish("scoring", "scoring", [(completed(d, p, r, j), d) for d, _, _, p, r, j in first])
        await env.approve(*(approved(d, name, who, p, r) for d, name, who, p, r, _ in first))

        async def ledger(**params):
            r = await cert.get(f"/rounds/{ROUND}/ledger", params=params, headers=sec)
            assert r.status_code == 200, r.text
            return r.json()

        async def certificates(count):
            body = (await cert.get("/registry.json")).json()
            return body["items"] if len(body["items"]) == count else None

        await eventually(lambda: certificates(3), what="the three recognised products' certificates")
        empty = await ledger()
        assert empty["schedule"] is None and empty["items"] == [] and empty["totals"]["all"]["owed"] == 0

        # the schedule, set after the approvals: the awards of the results already approved follow at once
        schedule = {"prizes": [{"amount": PRIZE}], "fee_per_session": FEE,
                    "basis": "Kế hoạch 683/KH-CTĐP-SCT, mục III.1"}
        assert (await cert.post(f"/rounds/{ROUND}/prize-schedule", json={**schedule, "fee_per_session": 1.5e6},
                                headers=sec)).status_code == 422  # đồng are integers, never floats
        r = await cert.post(f"/rounds/{ROUND}/prize-schedule", json=schedule, headers=sec)
        assert r.status_code == 201, r.text
        again = await cert.post(f"/rounds/{ROUND}/prize-schedule", json=schedule, headers=sec)
        assert again.status_code == 200 and again.json() == r.json()
        other = await cert.post(f"/rounds/{ROUND}/prize-schedule", json={**schedule, "fee_per_session": 2_000_000},
                                headers=sec)
        assert other.status_code == 409, other.text
        assert (await cert.post(f"/rounds/{ROUND}/prize-schedule", json=schedule,
                                headers=auth("gk-1", "judge"))).status_code == 403

        # one more recognised result after the schedule, delivered three times in all
        late = DOSSIERS[4]
        await env.publish("scoring", "scoring", [(completed(late[0], late[3], late[4], late[5]), late[0])])
        await env.approve(approved(*late[:5]))
        topic = f"{env.prefix}scoring.events"

        def the_late_result(e) -> bool:
            return e.type == "result.approved" and e.data["dossier_id"] == late[0]

        async with TopicReader(infra.kafka, topic) as reader:
            await reader.wait_for(lambda es: any(the_late_result(e) for e in es), what="the late result on the topic")
            records = [r for r, e in zip(reader.records, reader.events(), strict=True) if the_late_result(e)]
        assert len(records) == 1
        await redeliver(infra, topic, records, times=2)
        await eventually(lambda: certificates(4), what="the late product's certificate")

        recognised = [d for d in DOSSIERS if d[4]]
        sat = {j for d in DOSSIERS for j in d[5]}  # the secretary scores nothing and is owed nothing

        async def settled():
            body = await ledger(limit=200)
            return body if len(body["items"]) == len(recognised) + len(sat) * len(SESSIONS) else None

        body = await eventually(settled, what="every award and fee owed")
        awards = [i for i in body["items"] if i["kind"] == "award"]
        fees = [i for i in body["items"] if i["kind"] == "fee"]
        assert sorted(a["dossier_id"] for a in awards) == sorted(d[0] for d in recognised)
        assert {(f["member_id"], f["session"]) for f in fees} == {(j, s.value) for j in sat for s in SESSIONS}
        # exactly once, however often the result came and whoever settled it
        stored = await env.db["events"].count_documents({"type": "award.granted"})
        assert stored == len(recognised)
        # a replay that forgot what it handled (the inbox lost, as after a restore): still one award each
        late_event_id = (await env.db["ledger_results"].find_one({"data.dossier_id": late[0]}))["_id"]
        handled = {"_id": f"certification.ledger:{late_event_id}"}
        # the award may have been settled from the schedule's side before the ledger's consumer marked the result
        # handled: wait for the mark, or the delete below finds nothing under load
        await eventually(lambda: env.db["inbox"].find_one(handled), what="the late result marked handled")
        assert (await env.db["inbox"].delete_one(handled)).deleted_count == 1
        await redeliver(infra, topic, records, times=1)
        await eventually(lambda: env.db["inbox"].find_one(handled), what="the replayed result handled")
        assert await env.db["events"].count_documents({"type": "award.granted"}) == len(recognised)

        # payments: the secretariat pays, with the reference of the payment order
        today = env.clock()
        paid_awards, paid_fees = awards[:2], fees[:5]
        for i, line in enumerate(paid_awards):
            r = await cert.post(f"/awards/{line['line_id']}/payment", headers=sec,
                                json={"payment_reference": f"UNC-{i + 1:03}/2024", "paid_on": today.isoformat()})
            assert r.status_code == 201, r.text
            assert r.json()["paid"] and r.json()["paid_amount"] == PRIZE
        for i, line in enumerate(paid_fees):
            r = await cert.post(f"/fees/{line['line_id']}/payment", headers=sec,
                                json={"payment_reference": f"PC-{i + 1:03}/2024", "paid_on": today.isoformat()})
            assert r.status_code == 201, r.text
        twice = await cert.post(f"/awards/{paid_awards[0]['line_id']}/payment", headers=sec,
                                json={"payment_reference": "UNC-999/2024", "paid_on": today.isoformat()})
        assert twice.status_code == 409, twice.text
        twice = await cert.post(f"/fees/{paid_fees[0]['line_id']}/payment", headers=sec,
                                json={"payment_reference": "PC-999/2024", "paid_on": today.isoformat()})
        assert twice.status_code == 409, twice.text
        nothing_owed = "award-00000000-0000-0000-0000-000000000000"
        assert (await cert.post(f"/awards/{nothing_owed}/payment", headers=sec, json={
            "payment_reference": "UNC-1", "paid_on": today.isoformat()})).status_code == 404
        assert (await cert.post(f"/fees/{awards[2]['line_id']}/payment", headers=sec, json={
            "payment_reference": "PC-1", "paid_on": today.isoformat()})).status_code == 404  # an award is no fee
        tomorrow = (today + timedelta(days=1)).isoformat()
        assert (await cert.post(f"/awards/{awards[2]['line_id']}/payment", headers=sec, json={
            "payment_reference": "UNC-2", "paid_on": tomorrow})).status_code == 422

        # the totals, by hand: 4 products × 5,000,000 and 4 judges × 3 sessions × 1,500,000 owed
        awards_owed, awards_paid = 4 * 5_000_000, 2 * 5_000_000
        fees_owed, fees_paid = 4 * 3 * 1_500_000, 5 * 1_500_000
        body = await ledger(limit=200)
        assert body["totals"] == {
            "awards": {"owed": 20_000_000, "paid": 10_000_000, "outstanding": 10_000_000, "lines": 4},
            "fees": {"owed": 18_000_000, "paid": 7_500_000, "outstanding": 10_500_000, "lines": 12},
            "all": {"owed": awards_owed + fees_owed, "paid": awards_paid + fees_paid,
                    "outstanding": awards_owed + fees_owed - awards_paid - fees_paid, "lines": 16}}
        assert body["totals"]["all"]["outstanding"] == 20_500_000
        assert all(isinstance(i["amount"], int) for i in body["items"])
        # the lines page by key; every line once
        seen, after = [], None
        while True:
            page = await ledger(limit=5, **({"after": after} if after else {}))
            seen += [i["line_id"] for i in page["items"]]
            if not (after := page["next"]):
                break
        assert sorted(seen) == sorted(i["line_id"] for i in body["items"])

        # the auditor reads it too, as CSV; a producer does not
        r = await cert.get(f"/rounds/{ROUND}/ledger.csv", headers=auditor)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        print("\n" + r.text.lstrip("\ufeff"))
        rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert rows[-1][0] == "Tổng cộng" and [int(v) for v in rows[-1][5:8]] == [38_000_000, 17_500_000, 20_500_000]
        assert len(rows) == 1 + 16 + 3
        assert (await cert.get(f"/rounds/{ROUND}/ledger", headers=auth("p", "applicant"))).status_code == 403

        # the fair: a recognised product displayed, shown in the public registry and on its verification page
        items = await certificates(4)
        number = next(i["number"] for i in items if i["dossier_id"] == "kg-001")
        fair = {"certificate_number": number, "exhibition": "Hội chợ triển lãm hàng CNNT tiêu biểu khu vực phía "
                "Nam năm 2024", "on": "2024-10-10", "until": "2024-10-14", "place": "Rạch Giá, Kiên Giang"}
        r = await cert.post("/displays", json=fair, headers=sec)
        assert r.status_code == 201, r.text
        # the display as recorded, without the store's key (ADR 0050, amendment of 2026-11-30)
        assert set(r.json()) == {"display_id", "certificate_number", "round_id", "exhibition", "on", "until",
                                 "place", "product_name", "code", "event_id"}
        again = await cert.post("/displays", json=fair, headers=sec)
        assert again.status_code == 200 and again.json() == r.json()
        assert (await cert.post("/displays", json={**fair, "certificate_number": "KHONG-CO"},
                                headers=sec)).status_code == 404
        shown = {i["number"]: i["displayed_at"] for i in await certificates(4)}
        assert [d["place"] for d in shown[number]] == ["Rạch Giá, Kiên Giang"]
        assert sum(bool(v) for v in shown.values()) == 1
        page = (await cert.get(f"/verify/{number}")).text
        assert "Trưng bày tại" in page and "10/10/2024–14/10/2024" in page
        assert "Trưng bày tại" in (await cert.get("/registry")).text
