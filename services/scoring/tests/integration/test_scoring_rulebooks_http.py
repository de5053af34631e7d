"""GET /rulebooks and /rulebooks/{id} on the running scoring service (real broker and store): what a secretariat
reads before opening a round — the current version, the versions that still load, the sheets, and which parts
are provisional and on what basis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from binhchon_kit.testing.apps import running
from binhchon_kit.testing.infra import Infra
from scoring.main import ScoringSettings, build

pytestmark = pytest.mark.integration

IDS = ["cnnttb-2018", "cnnttb-2025", "ocop-2019", "ocop-2023", "ocop-2025"]


@pytest.fixture
async def scoring(infra: Infra, unique: str, topic_prefix: str, dev_keys: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = ScoringSettings(mongodb_url=infra.mongodb, mongodb_database=f"scoring_{unique}",
                               kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix,
                               auth_public_keys_file=str(dev_keys[1]))
    async with running(build(settings), "http://scoring") as client:
        yield client


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    r = await client.get(path, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_the_list_shows_each_current_version_and_the_older_ones(scoring: httpx.AsyncClient) -> None:
    r = await scoring.get("/rulebooks")
    assert r.status_code == 200, r.text
    books = {b["id"]: b for b in r.json()}
    assert sorted(books) == IDS
    for book in books.values():
        latest = 3 if book["programme"] == "CNNTTB" else 2  # CNNTTB v3: evaluated by code (issue 16)
        assert (book["version"], book["versions"]) == (latest, list(range(1, latest + 1)))
        assert book["provisional"] is True and book["provisional_items_count"] > 0
        assert book["source"]["urls"] and book["in_force_from"]
    assert books["ocop-2025"]["in_force_from"] == "2025-07-06"
    assert books["cnnttb-2025"]["in_force_from"] == "2025-07-01"


async def test_ocop_2023_says_its_criteria_mandatory_minima_and_bands_are_provisional(
        scoring: httpx.AsyncClient) -> None:
    book = await _get(scoring, "/rulebooks/ocop-2023")
    assert book["version"] == 2 and book["versions"] == [1, 2] and book["changes"]
    items = {i["where"]: i["basis"] for i in book["provisional_items"]}
    codes = [c["code"] for c in book["sheets"][0]["criteria"]]
    assert codes == ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "B1", "B2", "B3", "B4", "C1", "C2", "C3", "C4",
                     "C5"]  # the same sheet as version 1 (tools/demo and the e2e flow score it)
    assert {f"sheets/general/criteria/{c}" for c in codes} <= set(items)
    assert {w for w in items if w.endswith("/mandatory")} == {
        f"sheets/general/criteria/{c}/mandatory" for c in ("B4", "C3", "C4", "C5")}
    assert [w for w in items if w.startswith("star_bands/")] == [f"star_bands/{n}" for n in range(1, 6)]
    assert "Phụ lục III" in items["sheets/general/criteria/A1"]  # the criterion's basis falls back to its sheet's
    assert "tiêu chí bắt buộc" in items["sheets/general/criteria/B4/mandatory"]
    # what is sourced says where from
    assert all(not p["provisional"] and "148" in p["basis"] for p in book["parts"])
    assert [p["maximum"] for p in book["parts"]] == [40, 25, 35]
    assert [g["label"] for g in book["product_groups"]] == [
        "thực phẩm", "đồ uống", "dược liệu và sản phẩm từ dược liệu", "hàng thủ công mỹ nghệ", "sinh vật cảnh",
        "dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch"]
    assert any("thuvienphapluat" in u for u in book["source"]["urls"])


async def test_cnnttb_2025_four_groups_guidance_unscored_and_only_three_pass_marks_provisional(
        scoring: httpx.AsyncClient) -> None:
    book = await _get(scoring, "/rulebooks/cnnttb-2025")
    criteria = book["sheets"][0]["criteria"]
    assert [(c["code"], c["maximum"], c["session"]) for c in criteria] == [
        ("1", 40, "dossier"), ("2", 40, "dossier"), ("3", 10, "samples"), ("4", 10, "dossier")]
    assert criteria[0]["label"] == "Tiêu chí về đáp ứng thị trường và khả năng phát triển sản xuất"
    assert all(g["scored"] is False for c in criteria for g in c["guidance"])
    assert [i["where"] for i in book["provisional_items"]] == ["levels/commune", "levels/region", "levels/national"]
    assert all("tạm tính" in i["basis"] for i in book["provisional_items"])
    province = next(lv for lv in book["levels"] if lv["level"] == "province")
    assert province["pass_mark"] == 70 and not province["provisional"] and "baothainguyen" in province["basis"]


async def test_ocop_2019_serves_the_fresh_produce_sheet_with_its_options(scoring: httpx.AsyncClient) -> None:
    book = await _get(scoring, "/rulebooks/ocop-2019")
    rau = next(s for s in book["sheets"] if s["id"] == "rau-cu-qua-hat-tuoi")
    assert len(rau["criteria"]) == 31 and rau["provisional"] is False
    colour = next(c for c in rau["criteria"] if c["code"] == "C1.2")
    assert [(o["points"], o["label"]) for o in colour["options"]] == [
        (0, "Không phù hợp"), (1, "Chấp nhận được"), (3, "Tương đối phù hợp"), (5, "Phù hợp"), (8, "Rất phù hợp")]
    assert colour["allowed"] == [0, 1, 3, 5, 8]
    where = [i["where"] for i in book["provisional_items"]]
    assert not any(w.startswith("sheets/rau-cu-qua-hat-tuoi/criteria/") and not w.endswith("/mandatory")
                   for w in where)
    assert "sheets/general" in where


async def test_an_earlier_version_is_still_served(scoring: httpx.AsyncClient) -> None:
    old = await _get(scoring, "/rulebooks/cnnttb-2025", version=1)
    assert old["version"] == 1 and old["versions"] == [1, 2, 3]
    assert [c["code"] for c in old["sheets"][0]["criteria"]][:3] == ["1.1", "1.2", "1.3"]
    assert old["provisional_items"][0]["where"] == "rulebook"  # version 1 was provisional as a whole


async def test_unknown_rulebook_or_version_is_refused_naming_it(scoring: httpx.AsyncClient) -> None:
    r = await scoring.get("/rulebooks/ocop-1999")
    assert r.status_code == 404 and "ocop-1999" in r.json()["detail"]
    r = await scoring.get("/rulebooks/ocop-2023", params={"version": 9})
    assert r.status_code == 404 and "version 9" in r.json()["detail"]
    r = await scoring.get("/rulebooks/ocop-2023", params={"version": 0})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "version"]
