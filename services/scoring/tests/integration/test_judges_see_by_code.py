"""Evaluation by code (issue 16) on the real broker and store: in a CNNTTB round (seed 001, the southern region)
the dossier accepted in intake gets a selection code drawn at random, and what the panel reads of it in scoring
(the round's list, the dossier, the score sheets) shows that code and the product, never the producer; the
secretariat still sees who it is; an OCOP round, whose rulebook does not score by code, shows the producer."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.samples import dossier_body, round_body
from intake.main import IntakeSettings
from intake.main import build as build_intake
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 23, 26, tzinfo=UTC)  # intake's clock: 23/11 in Vietnam
TODAY = datetime(2026, 11, 23).date()
PRODUCER = dossier_body()["producer"]["name"]
MEMBERS = [{"id": "cm-1", "name": "Trần Văn Chủ", "organisation": "Cục Công Thương địa phương", "role": "chair"},
           {"id": "cm-2", "name": "Nguyễn Thị Hai", "organisation": "Sở Công Thương Kiên Giang", "role": "member"}]
SOUTH = {"region_code": "MN", "region": "Khu vực phía Nam", "province_codes": ["91", "92", "94"]}


def settings(cls: Any, service: str, infra: Any, unique: str, prefix: str, key: str) -> Any:
    return cls(mongodb_url=infra.mongodb, mongodb_database=f"{service}_{unique}", kafka_bootstrap_servers=infra.kafka,
               kafka_topic_prefix=prefix, auth_public_keys_file=key)


async def scored_round(intake: Any, scoring: Any, auth: Any, code: str, **round_: Any) -> tuple[str, str, str]:
    """A round with its panel and one accepted dossier scoring has opened: (round id, dossier id, its code)."""
    sec = auth("cuc-ctdp", "secretariat")
    body = round_body(code, year=TODAY.year, schedule={
        "submission_opens": (TODAY - timedelta(days=5)).isoformat(),
        "submission_closes": (TODAY + timedelta(days=20)).isoformat()}, **round_)
    r = await intake.post("/rounds", json=body, headers=sec)
    assert r.status_code == 201, r.text
    round_id = r.json()["round_id"]

    async def panel() -> Any:
        r = await scoring.post(f"/rounds/{round_id}/panel", headers=sec, json={"name": "Ban Giám khảo",
                                                                               "members": MEMBERS})
        return r if r.status_code != 409 or "has not heard" not in r.text else None

    r = await eventually(panel, what="scoring to hear of the round")
    assert r.status_code == 201, r.text
    province = round_.get("area", {}).get("province_codes", ["24"])[0]
    producer = {**dossier_body()["producer"], "address": {**dossier_body()["producer"]["address"],
                                                          "province_code": province}}
    await upload_documents(intake, sec)  # a dossier lists stored content (ADR 0045)
    r = await intake.post(f"/rounds/{round_id}/dossiers", headers=sec,
                          json=dossier_body(product="Nước mắm Phú Quốc", producer=producer))
    assert r.status_code == 201, r.text
    dossier_id = r.json()["dossier_id"]
    group = "chế biến nông, lâm, thủy sản và thực phẩm" if round_.get("programme") == "CNNTTB" else "thực phẩm"
    r = await intake.post(f"/dossiers/{dossier_id}/accept", headers=sec, json={"product_group": group})
    assert r.status_code == 201, r.text
    selection_code = r.json()["sample_code"]

    async def opened() -> Any:
        r = await scoring.get(f"/dossiers/{dossier_id}", headers=sec)
        return r.json() if r.status_code == 200 else None

    doc = await eventually(opened, what="scoring to open the dossier")
    assert doc["status"] != "not_opened", doc
    return round_id, dossier_id, selection_code


async def test_a_cnnttb_panel_reads_the_selection_code_and_the_product_never_the_producer(
        infra, unique, topic_prefix, dev_keys, auth):
    key = str(dev_keys[1])
    async with running(build_intake(settings(IntakeSettings, "intake", infra, unique, topic_prefix, key),
                                    lambda: NOW), "http://intake") as intake, \
            running(build_scoring(settings(ScoringSettings, "scoring", infra, unique, topic_prefix, key)),
                    "http://scoring") as scoring:
        round_id, dossier_id, code = await scored_round(
            intake, scoring, auth, f"MN{unique}", programme="CNNTTB", rulebook_id="cnnttb-2018", level="region",
            area=SOUTH, organiser="Cục Công Thương địa phương",
            title="Bình chọn sản phẩm CNNT tiêu biểu khu vực phía Nam năm 2024")
        assert re.fullmatch(r"MS-[A-Z2-9]{5}", code)
        judge = auth("cm-2", "judge")

        async def listed() -> Any:  # the list is the read model, which follows the stream the dossier is read from
            items = (await scoring.get(f"/rounds/{round_id}/dossiers", headers=judge)).json()["items"]
            return items or None

        [item] = await eventually(listed, what="the round's list to show the dossier")
        dossier = (await scoring.get(f"/dossiers/{dossier_id}", headers=judge)).json()
        sheets = (await scoring.get(f"/dossiers/{dossier_id}/score-sheets", headers=judge)).json()
        for seen in (item, dossier):
            assert (seen["sample_code"], seen["product_name"], seen["rulebook_version"]) == (
                code, "Nước mắm Phú Quốc", 3)
            assert seen["evaluated_by_code"] is True and "producer_name" not in seen
            assert PRODUCER not in str(seen)
            assert not {"_id", "page_key", "round_key", "awaiting_key"} & seen.keys(), "the store's keys shown"
        assert (sheets["sample_code"], sheets["product_name"]) == (code, "Nước mắm Phú Quốc")
        assert PRODUCER not in str(sheets)
        chair = (await scoring.get(f"/dossiers/{dossier_id}", headers=auth("cm-1", "council_chair"))).json()
        assert "producer_name" not in chair
        staff = (await scoring.get(f"/dossiers/{dossier_id}", headers=auth("cuc-ctdp", "secretariat"))).json()
        assert staff["producer_name"] == PRODUCER and staff["sample_code"] == code

        # an OCOP round's rulebook does not score by code: its panel sees the producer
        _, ocop_dossier, _ = await scored_round(intake, scoring, auth, f"OC{unique}", rulebook_id="ocop-2025")
        ocop = (await scoring.get(f"/dossiers/{ocop_dossier}", headers=judge)).json()
        assert ocop["producer_name"] == PRODUCER and "evaluated_by_code" not in ocop
