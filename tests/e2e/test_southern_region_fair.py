"""The southern region's CNNTTB round of seed 001 (Kế hoạch 683/KH-CTĐP-SCT, Kiên Giang 2024), end to end on the real
broker and store with intake, scoring, certification and notify running (issue 16, ADR 0046 and 0050).

The Sở Công Thương receives each accepted dossier's samples (a Vietnamese handover slip, the selection code on it),
takes them to the council room, where some are tasted; the judges score by code (their views show the code and the
product, never the producer); the chair proposes, the Cục decides; certificates follow; the prize schedule of
section III.1 grants each recognised product its prize and each judge a fee per session; the recognised products
are displayed at the fair (items 11, 16) and the registry says so; after the fair the producers are told to collect
their samples and hand back all of them, signing the slip (item 17); the round closes only once none is held;
prizes and fees are paid, mailed to the producers and the judges, and the ledger adds up to the sums below.

Hand computation (rulebook cnnttb-2018, region pass mark 70; every judge's sheet is the dossier's target, the
members' offsets 0, +1, -1, 0 cancel out): Nước mắm 86, Chiếu cói 81, Bánh pía 77 recognised; Máy tuốt lúa 64 not.
- awards: 3 recognised × PRIZE (5,000,000) = 15,000,000 owed, all paid;
- fees: 4 judges who scored (the chair and three members; the secretary scores nothing) × 3 sessions of the panel
  × FEE (1,500,000) = 18,000,000 owed; all but one paid (one field visit's voucher still out): 16,500,000 paid,
  1,500,000 outstanding.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from binhchon_kit.personal import MasterKey
from binhchon_kit.testing.clock import Clock
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.mail import Mailbox
from binhchon_kit.testing.samples import dossier_body, round_body
from binhchon_tools.scenario import sheet

BIN = Path(sys.executable).parent

pytestmark = pytest.mark.integration

SOUTH = {"region_code": "MN", "region": "Khu vực phía Nam", "province_codes": ["91", "92", "94", "83"]}
PRIZE, FEE = 5_000_000, 1_500_000  # đồng, the Cục's budget (section III.1): per product recognised, per session
SESSIONS = ["dossier", "samples", "field_visit"]  # items 04, 07 and 06 of the plan
PANEL = [("gk-chu-tich", "Nguyễn Văn Thịnh", "chair"), ("gk-1", "Lê Thị Một", "member"),
         ("gk-2", "Phạm Văn Hai", "member"), ("gk-3", "Võ Thị Ba", "member"), ("thu-ky", "Đỗ Thư Ký", "secretary")]
JUDGES = [m for m, _, role in PANEL if role != "secretary"]
OFFSETS = [0, 1, -1, 0]  # each judge's total against the dossier's target: they cancel out in the average
KHO = "Kho Sở Công Thương tỉnh Kiên Giang, số 5 Trần Phú, Rạch Giá"
PHONG_HOP = "Phòng họp Hội đồng bình chọn"
TRUNG_BAY = "Khu trưng bày sản phẩm CNNT tiêu biểu, Hội chợ triển lãm Kiên Giang"
FOOD = "chế biến nông, lâm, thủy sản và thực phẩm"


class Entry:
    def __init__(self, n: int, producer: str, product: str, group: str, province: tuple[str, str], target: int,
                 tasted: int) -> None:
        self.n, self.producer, self.product, self.group, self.target = n, producer, product, group, target
        self.province_code, self.province = province
        self.tasted = tasted  # samples used up in tasting at the council
        self.email = f"coso.{n}@example.vn"
        self.dossier_id = self.code = self.receipt = ""

    def body(self) -> dict[str, Any]:
        body = dossier_body(product=self.product, regno=f"{self.province_code}0000{self.n:04d}")
        body["producer"].update({
            "kind": "enterprise", "name": self.producer,
            "address": {"street": f"Số {self.n} đường 30/4", "commune": "Phường 1", "province": self.province,
                        "province_code": self.province_code},
            "contact": {"person": f"Chủ cơ sở {self.n}", "phone": f"0913 000 {self.n:03d}", "email": self.email}})
        body["product"].update({"name": self.product, "product_group": self.group, "description": self.product,
                                "sample_count": 5})
        return body


ENTRIES = [Entry(1, "Cơ sở Nước mắm Hưng Thịnh", "Nước mắm Phú Quốc cá cơm", FOOD, ("91", "Tỉnh Kiên Giang"), 86, 1),
           Entry(2, "Hợp tác xã Chiếu cói Thới Long", "Chiếu cói Thới Long", "thủ công mỹ nghệ",
                 ("92", "Thành phố Cần Thơ"), 81, 0),
           Entry(3, "Cơ sở Bánh pía Tân Huê Viên", "Bánh pía Sóc Trăng", FOOD, ("94", "Tỉnh Sóc Trăng"), 77, 2),
           Entry(4, "Cơ sở Cơ khí Tân Hồng", "Máy tuốt lúa mini", "thiết bị, máy móc, dụng cụ và phụ tùng cơ khí",
                 ("83", "Tỉnh Bến Tre"), 64, 0)]
RECOGNISED = ENTRIES[:3]


def mails(mailbox: Mailbox, subject_part: str) -> list[tuple[str, str, str]]:
    """(To, Subject, plain text) of the mails whose subject holds ``subject_part``, as a mail client decodes them."""
    return [m for m in mailbox.texts() if subject_part in m[1]]


def ok(r: httpx.Response, status: int = 201) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:2000]}"
    return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text


@pytest.mark.timeout(600)
async def test_the_southern_regions_samples_scoring_fair_prizes_and_fees(
        infra, unique, topic_prefix, dev_keys, auth, token, tmp_path, four_services):
    clock = Clock()
    today = clock.today()
    master_key = tmp_path / "personal-data-master.key"
    MasterKey.write_new(master_key)
    mailbox = Mailbox()
    mailbox.controller.start()
    cuc, sct = auth("cuc-ctdp", "secretariat"), auth("sct-kien-giang", "secretariat")
    judge = {m: auth(m, "council_chair" if role == "chair" else "judge") for m, _, role in PANEL}
    try:
        async with four_services(infra, unique, topic_prefix, str(dev_keys[1]), clock, mailbox,
                         token("notify", "service"), master_key) as services:
            intake, scoring, cert = services["intake"], services["scoring"], services["certification"]

            # items 01-03: the round opened, the council formed, the provinces' dossiers filed and accepted
            round_id = ok(await intake.post("/rounds", headers=cuc, json=round_body(
                f"MN{unique}", today=today, programme="CNNTTB", rulebook_id="cnnttb-2018", level="region",
                area=SOUTH, organiser="Cục Công Thương địa phương",
                title="Bình chọn sản phẩm công nghiệp nông thôn tiêu biểu khu vực phía Nam năm 2024")))["round_id"]
            panel = {"name": "Ban Giám khảo bình chọn sản phẩm CNNT tiêu biểu khu vực phía Nam",
                     "members": [{"id": m, "name": name, "organisation": "Cục Công Thương địa phương", "role": role,
                                  "email": f"{m}@example.vn"} for m, name, role in PANEL],
                     "quorum": {"fraction": 0.75, "chair_required": True}, "sessions": SESSIONS}

            async def formed() -> Any:
                r = await scoring.post(f"/rounds/{round_id}/panel", headers=cuc, json=panel)
                return None if r.status_code == 409 and "has not heard" in r.text else r

            ok(await eventually(formed, what="scoring to hear of the round"))

            for e in ENTRIES:
                applicant = auth(f"coso-{e.n}", "applicant")
                await upload_documents(intake, applicant)
                e.dossier_id = ok(await intake.post(f"/rounds/{round_id}/dossiers", headers=applicant,
                                                    json=e.body()))["dossier_id"]
                accepted = ok(await intake.post(f"/dossiers/{e.dossier_id}/accept", headers=cuc,
                                                json={"product_group": e.group}))
                e.code, e.receipt = accepted["sample_code"], accepted["receipt_number"]
            assert len({e.code for e in ENTRIES}) == len(ENTRIES)
            assert all(e.receipt.rsplit("-", 1)[-1] not in e.code for e in ENTRIES)

            # items 05 and 07: the Sở receives the samples, labels them with the code, takes them to the council
            for e in ENTRIES:
                got = ok(await intake.post(f"/dossiers/{e.dossier_id}/samples/received", headers=sct, json={
                    "count": 5, "condition": "nguyên vẹn, còn hạn sử dụng", "storage_place": KHO,
                    "received_by": "Trần Văn Nhận", "handed_over_by": f"Người giao mẫu {e.n}"}))
                assert got["selection_code"] == e.code and got["actor"] == "sct-kien-giang"
                slip = ok(await intake.get(f"/dossiers/{e.dossier_id}/samples/slip", headers=sct), 200)
                assert "BIÊN BẢN GIAO NHẬN MẪU SẢN PHẨM" in slip and e.code in slip
                assert f"Người giao mẫu {e.n}" in slip  # the producer's person, sealed on the event, opened here
                ok(await intake.post(f"/dossiers/{e.dossier_id}/samples/moved", headers=sct, json={
                    "count": 5, "from_place": KHO, "to_place": PHONG_HOP, "purpose": "chấm điểm trực tiếp sản phẩm"}))
                if e.tasted:
                    ok(await intake.post(f"/dossiers/{e.dossier_id}/samples/consumed", headers=sct, json={
                        "count": e.tasted, "place": PHONG_HOP, "note": "nếm thử khi chấm điểm"}))

            # items 04, 06, 07: the judges score by code
            async def opened() -> Any:
                r = await scoring.get(f"/rounds/{round_id}/dossiers", headers=judge["gk-1"])
                return r.json()["items"] if r.status_code == 200 and len(r.json()["items"]) == 4 else None

            seen = await eventually(opened, what="scoring to open the four accepted dossiers")
            by_code = {e.code: e for e in ENTRIES}
            for item in seen:
                e = by_code[item["sample_code"]]
                assert item["product_name"] == e.product and "producer_name" not in item
                assert e.producer not in json.dumps(item, ensure_ascii=False)
            view = ok(await scoring.get(f"/dossiers/{ENTRIES[0].dossier_id}", headers=judge["gk-2"]), 200)
            assert (view["sample_code"], view["product_name"]) == (ENTRIES[0].code, ENTRIES[0].product)
            assert "producer_name" not in view and ENTRIES[0].producer not in json.dumps(view, ensure_ascii=False)
            staff = ok(await scoring.get(f"/dossiers/{ENTRIES[0].dossier_id}", headers=cuc), 200)
            assert staff["producer_name"] == ENTRIES[0].producer  # the round's staff still see who it is

            rulebook = ok(await scoring.get("/rulebooks/cnnttb-2018"), 200)
            full = {c["code"]: c["maximum"] for c in rulebook["sheets"][0]["criteria"]}
            for e in ENTRIES:
                for member, offset in zip(JUDGES, OFFSETS, strict=True):
                    total = e.target + offset
                    r = ok(await scoring.post(f"/dossiers/{e.dossier_id}/score-sheets", headers=judge[member],
                                              json={"scores": sheet(full, total, sorted(full))}))
                    assert r["total"] == total
            sheets = ok(await scoring.get(f"/dossiers/{ENTRIES[1].dossier_id}/score-sheets",
                                          headers=judge["gk-3"]), 200)
            assert sheets["sample_code"] == ENTRIES[1].code and ENTRIES[1].producer not in json.dumps(
                sheets, ensure_ascii=False)

            # section III.1: the Cục's schedule, set before the decision: awards follow the approvals
            schedule = {"prizes": [{"amount": PRIZE}], "fee_per_session": FEE,
                        "basis": "Kế hoạch 683/KH-CTĐP-SCT, mục III.1"}
            ok(await cert.post(f"/rounds/{round_id}/prize-schedule", headers=cuc, json=schedule))

            # items 08-09: the chair proposes, the Cục decides
            proposal = ok(await scoring.post(f"/rounds/{round_id}/proposals", headers=judge["gk-chu-tich"]))
            assert [row["dossier_id"] for row in proposal["rows"]] == [e.dossier_id for e in ENTRIES]
            decision = {"number": f"{unique[:4]}/QĐ-CTĐP", "date": today.isoformat(), "signer": "Nguyễn Văn Thịnh",
                        "authority": "Cục Công Thương địa phương"}
            decided = ok(await scoring.post(f"/proposals/{proposal['proposal_id']}/approval", json={
                "decision": decision}, headers=auth("cuc-truong", "approver", authorities=("region:MN",))))
            assert [d["type"] for d in decided] == ["result.approved"] * 3 + ["result.not_recognised"]

            # item 10: certificates issued for the three recognised products
            async def certificates() -> Any:
                items = (await cert.get("/registry.json")).json()["items"]
                return items if len(items) == len(RECOGNISED) else None

            issued = {i["dossier_id"]: i for i in await eventually(certificates, timeout=60,
                                                                   what="the three certificates")}
            assert set(issued) == {e.dossier_id for e in RECOGNISED}
            # sealed at filing while only declared, an enterprise's name is public from its acceptance on, as it
            # was before ADR 0048's fourth amendment: the registry names each holder in clear
            assert {i["dossier_id"]: i["holder"]["name"] for i in issued.values()} == {
                e.dossier_id: e.producer for e in RECOGNISED}

            # items 11 and 16: the recognised products on display at the fair, the others back to the store room
            fair = {"exhibition": "Hội chợ triển lãm hàng CNNT tiêu biểu khu vực phía Nam năm 2024",
                    "on": today.isoformat(), "until": (today + timedelta(days=1)).isoformat(),
                    "place": "Rạch Giá, Kiên Giang"}
            for e in ENTRIES:
                held = 5 - e.tasted
                ok(await intake.post(f"/dossiers/{e.dossier_id}/samples/moved", headers=sct, json={
                    "count": held, "from_place": PHONG_HOP, "to_place": TRUNG_BAY if e in RECOGNISED else KHO,
                    "purpose": "trưng bày tại hội chợ" if e in RECOGNISED else "lưu kho"}))
            for e in RECOGNISED:
                ok(await cert.post("/displays", headers=cuc,
                                   json={**fair, "certificate_number": issued[e.dossier_id]["number"]}))
            registry = (await cert.get("/registry.json")).json()["items"]
            assert all([d["place"] for d in i["displayed_at"]] == ["Rạch Giá, Kiên Giang"] for i in registry)
            number = issued[ENTRIES[0].dossier_id]["number"]
            assert "Trưng bày tại" in (await cert.get(f"/verify/{number}")).text
            assert "Trưng bày tại" in (await cert.get("/registry")).text

            # item 17: after the fair, the producers told where and when to collect their samples
            # (two days on: notify takes an event stamped more than 72 hours before its clock for history replayed,
            # and tells no one; the events' own times are the machine's)
            clock.move_to(clock.now + timedelta(days=2))
            after_fair = clock.today()
            notice = {"place": KHO, "from_date": after_fair.isoformat(),
                      "until_date": (after_fair + timedelta(days=7)).isoformat(),
                      "occasion": "sau khi kết thúc hội chợ triển lãm"}
            told = ok(await intake.post(f"/rounds/{round_id}/samples/return-notice", headers=sct, json=notice))
            assert sorted(told["notified"]) == sorted(e.dossier_id for e in ENTRIES)
            await eventually(lambda: _at_least(mailbox, "Mời nhận lại mẫu sản phẩm", len(ENTRIES)), timeout=60,
                             what="the samples-due-back mails")
            for e in ENTRIES:
                [(_, subject, text)] = [m for m in mails(mailbox, "Mời nhận lại mẫu sản phẩm") if m[0] == e.email]
                assert subject == f"[{e.receipt}] Mời nhận lại mẫu sản phẩm"
                lines = text.splitlines()
                assert lines[0] == f"Kính gửi {e.producer},"
                assert f"Đề nghị cơ sở cử người đến nhận lại {5 - e.tasted} mẫu sản phẩm:" in lines
                assert f'Mẫu sản phẩm "{e.product}" (mã số bình chọn {e.code}) đã hết thời gian lưu giữ phục vụ ' \
                       "bình chọn (sau khi kết thúc hội chợ triển lãm)." in lines
                assert f"Địa điểm: {KHO}" in lines

            def handed_back(e: Entry) -> dict[str, Any]:
                return {"count": 5 - e.tasted, "from_place": TRUNG_BAY if e in RECOGNISED else KHO,
                        "condition": "nguyên vẹn", "returned_by": "Trần Văn Nhận", "received_by": f"Đại diện {e.n}",
                        "producer_confirmation": "Đã nhận đủ mẫu, đúng sản phẩm"}

            for e in ENTRIES[:3]:
                ok(await intake.post(f"/dossiers/{e.dossier_id}/samples/returned", headers=sct, json=handed_back(e)))
            # the round cannot close while one dossier still holds samples, with no reason recorded
            r = await intake.post(f"/rounds/{round_id}/close", headers=cuc, json={})
            assert r.status_code == 409, r.text
            assert [d["dossier_id"] for d in r.json()["dossiers"]] == [ENTRIES[3].dossier_id]
            last = ENTRIES[3]
            ok(await intake.post(f"/dossiers/{last.dossier_id}/samples/returned", headers=sct,
                                 json=handed_back(last)))
            back = ok(await intake.get(f"/dossiers/{last.dossier_id}/samples/slip", headers=sct,
                                       params={"step": "returned"}), 200)
            assert "Đã nhận đủ mẫu, đúng sản phẩm" in back and last.code in back
            custody = ok(await intake.get(f"/rounds/{round_id}/samples", headers=sct), 200)
            print("\nGET /rounds/{id}/samples:\n" + json.dumps(custody, ensure_ascii=False, indent=1))
            assert [i["selection_code"] for i in custody["items"]] == sorted(e.code for e in ENTRIES)
            for item in custody["items"]:
                e = by_code[item["selection_code"]]
                assert (item["received"], item["consumed"], item["returned"]) == (5, e.tasted, 5 - e.tasted)
                assert item["all_returned"] and item["held"] == []
            closed = ok(await intake.post(f"/rounds/{round_id}/close", headers=cuc,
                                          json={"note": "Kết thúc đợt bình chọn, đã trả toàn bộ mẫu"}))
            assert closed["retained"] == []
            assert (await intake.get(f"/rounds/{round_id}")).json()["status"] == "closed"

            # prizes and fees: owed once each, then paid
            async def ledger() -> dict[str, Any]:
                return ok(await cert.get(f"/rounds/{round_id}/ledger", headers=cuc, params={"limit": 200}), 200)

            async def settled() -> Any:
                body = await ledger()
                return body if len(body["items"]) == len(RECOGNISED) + len(JUDGES) * len(SESSIONS) else None

            lines_ = (await eventually(settled, timeout=60, what="every award and fee owed"))["items"]
            awards = [i for i in lines_ if i["kind"] == "award"]
            fees = [i for i in lines_ if i["kind"] == "fee"]
            assert sorted(a["dossier_id"] for a in awards) == sorted(e.dossier_id for e in RECOGNISED)
            assert all(a["amount"] == PRIZE for a in awards) and all(f["amount"] == FEE for f in fees)
            assert {(f["member_id"], f["session"]) for f in fees} == {(j, s) for j in JUDGES for s in SESSIONS}
            paid_on = clock.today().isoformat()
            for k, a in enumerate(sorted(awards, key=lambda a: a["dossier_id"]), start=1):
                ok(await cert.post(f"/awards/{a['line_id']}/payment", headers=cuc,
                                   json={"payment_reference": f"UNC-{k:03d}/2024", "paid_on": paid_on}))
            unpaid = next(f for f in fees if (f["member_id"], f["session"]) == ("gk-3", "field_visit"))
            to_pay = sorted((f for f in fees if f is not unpaid), key=lambda f: (f["member_id"], f["session"]))
            for k, f in enumerate(to_pay, start=1):
                ok(await cert.post(f"/fees/{f['line_id']}/payment", headers=cuc,
                                   json={"payment_reference": f"PC-{k:03d}/2024", "paid_on": paid_on}))

            # the totals by hand, from the schedule and the counts
            awards_owed = len(RECOGNISED) * PRIZE
            fees_owed = len(JUDGES) * len(SESSIONS) * FEE
            fees_paid = len(to_pay) * FEE
            assert (awards_owed, fees_owed, fees_paid) == (15_000_000, 18_000_000, 16_500_000)
            totals = (await ledger())["totals"]
            assert totals == {
                "awards": {"owed": awards_owed, "paid": awards_owed, "outstanding": 0, "lines": len(RECOGNISED)},
                "fees": {"owed": fees_owed, "paid": fees_paid, "outstanding": fees_owed - fees_paid,
                         "lines": len(JUDGES) * len(SESSIONS)},
                "all": {"owed": awards_owed + fees_owed, "paid": awards_owed + fees_paid,
                        "outstanding": fees_owed - fees_paid, "lines": len(RECOGNISED) + len(JUDGES) * len(SESSIONS)}}
            r = await cert.get(f"/rounds/{round_id}/ledger.csv", headers=auth("kiem-toan", "auditor"))
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
            text = r.text.lstrip("\ufeff")
            print("\nGET /rounds/{id}/ledger.csv:\n" + text)
            rows = list(csv.reader(io.StringIO(text)))
            assert len(rows) == 1 + len(lines_) + 3
            assert rows[-1][0] == "Tổng cộng"
            assert [int(v) for v in rows[-1][5:8]] == [awards_owed + fees_owed, awards_owed + fees_paid,
                                                       fees_owed - fees_paid]
            assert sum(int(row[5]) for row in rows[1:1 + len(lines_)]) == awards_owed + fees_owed

            # the producers told their prize is paid, the judges their fee
            await eventually(lambda: _at_least(mailbox, "Đã chi trả tiền thưởng", len(RECOGNISED)), timeout=60,
                             what="the prize-paid mails")
            await eventually(lambda: _at_least(mailbox, "Đã chi trả thù lao", len(to_pay)), timeout=60,
                             what="the fee-paid mails")
            for e in RECOGNISED:
                [(_, subject, text)] = [m for m in mails(mailbox, "Đã chi trả tiền thưởng") if m[0] == e.email]
                assert subject == f'Đã chi trả tiền thưởng sản phẩm "{e.product}"'
                assert "Tiền thưởng 5.000.000 đồng" in text and "Số chứng từ chi trả: UNC-" in text
            fee_mails = mails(mailbox, "Đã chi trả thù lao")
            assert sorted(m[0] for m in fee_mails) == sorted(f"{f['member_id']}@example.vn" for f in to_pay)
            assert all("1.500.000 đồng" in m[2] and "Số chứng từ chi trả: PC-" in m[2] for m in fee_mails)
            assert not any(m[0] == f"{last.email}" for m in mails(mailbox, "Đã chi trả tiền thưởng"))

            # the auditor's tool on the season's topics: one award per recognised result, one fee per counted judge
            # per session, every payment paying one owed line once (ADR 0050)
            audit = await asyncio.to_thread(
                subprocess.run, [str(BIN / "binhchon-audit"), "verify", "--bootstrap-servers", infra.kafka,
                                 "--topic-prefix", topic_prefix, "--json"], capture_output=True, text=True,
                timeout=300)
            assert audit.returncode == 0 and json.loads(audit.stdout)["ok"], audit.stdout[-3000:] + audit.stderr[-3000:]
            summary = json.loads(audit.stdout)["summary"]
            print("audit verify on the fair's season:", json.dumps(summary))
            assert (summary["awards"], summary["fees"], summary["payments"]) == (
                len(RECOGNISED), len(JUDGES) * len(SESSIONS), len(RECOGNISED) + len(to_pay)), summary
    finally:
        mailbox.controller.stop()


async def _at_least(mailbox: Mailbox, subject_part: str, count: int) -> bool | None:
    return True if len(mails(mailbox, subject_part)) >= count else None
