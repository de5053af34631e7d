"""The rulebooks against the public sources (../shared/rules/OFFICIAL_SHEETS.md): the 1048 fresh-produce sheet
criterion by criterion, the CNNTTB four-group sheet, 148's product groups and levels, and what stays provisional.
The expected values below are transcribed from OFFICIAL_SHEETS.md by hand, independently of the YAML files."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from binhchon_kit.contracts.common import Level
from binhchon_kit.contracts.scoring import ScoringCompleted, Session
from scoring.domain.errors import Refused
from scoring.domain.rulebook import Rulebook

from .scoring_builders import RULEBOOK_IDS, ScoringHistory, panel, rulebook, rulebook_dict, rulebooks, scorer_ids

RAU = "rau-cu-qua-hat-tuoi"

# OFFICIAL_SHEETS.md §1.2, items 1–31: (code, group, label, allowed points, number of options)
RAU_SHEET: list[tuple[str, str, str, tuple[float, ...], int]] = [
    ("A1.1", "A1", "Nguồn nguyên liệu", (1, 2, 3), 3),
    ("A1.2", "A1", "Gia tăng giá trị", (0, 1, 2, 3), 4),
    ("A1.3", "A1", "Năng lực sản xuất đáp ứng yêu cầu phân phối", (1, 2, 3, 4), 4),
    ("A1.4", "A1", "Liên kết sản xuất", (0, 1, 2), 3),
    ("A1.5", "A1", "Bảo vệ môi trường trong quá trình sản xuất", (1, 2, 3, 4, 5), 5),
    ("A1.6", "A1", "Sử dụng năng lượng, công nghệ thân thiện bền vững trong SX", (0, 1), 2),
    ("A2.1", "A2", "Nguồn gốc ý tưởng sản phẩm", (0, 1, 2, 3), 4),
    ("A2.2", "A2", "Tính hoàn thiện của bao bì", (0, 1, 2, 3), 4),
    ("A2.3", "A2", "Phong cách, hình thức của bao bì", (0, 1, 2), 3),
    ("A3.1", "A3", "Loại hình tổ chức sản xuất - kinh doanh", (1, 2, 3), 3),
    ("A3.2", "A3", "Sự tham gia của cộng đồng trong quản lý, điều hành", (0, 1, 2), 4),  # two option lists
    ("A3.3", "A3", "Sử dụng lao động địa phương", (0, 1), 2),
    ("A3.4", "A3", "Tăng trưởng sản xuất kinh doanh", (0, 1), 2),
    ("A3.5", "A3", "Kế toán", (0, 1, 2), 3),
    ("B1.1", "B1", "Khu vực phân phối chính", (1, 2, 3, 5), 4),
    ("B1.2", "B1", "Tổ chức phân phối", (0, 1, 3, 5), 4),
    ("B1.3", "B1", "Quảng bá sản phẩm", (0, 1, 2, 3, 5), 5),
    ("B2.1", "B2", "Câu chuyện về sản phẩm", (0, 1, 2, 3, 4, 5), 6),
    ("B2.2", "B2", "Trí tuệ/bản sắc địa phương", (0, 1, 2, 3), 4),
    ("B2.3", "B2", "Cấu trúc câu chuyện", (1, 2), 2),
    ("C1.1", "C1", "Kích thước, hình dạng bề ngoài", (0, 1, 2), 3),
    ("C1.2", "C1", "Màu sắc, độ chín", (0, 1, 3, 5, 8), 5),
    ("C1.3", "C1", "Mùi/vị", (0, 1, 2, 3), 4),
    ("C1.4", "C1", "Tính đầy đủ, sạch", (0, 1, 2, 3), 4),
    ("C1.5", "C1", "Kết cấu/cách sắp đặt", (0, 1, 2), 3),
    ("C2.1", "C2", "Dinh dưỡng (chỉ ra hàm lượng các chỉ tiêu dinh dưỡng như Protit, Lipid, Vitamin… theo phiếu "
                   "kiểm nghiệm do cơ quan có thẩm quyền cấp)", (0, 1, 2), 3),
    ("C3.1", "C3", "Tính độc đáo (có nét riêng, khác biệt, không lẫn với sản phẩm khác, tiềm năng thành thương "
                   "hiệu của địa phương)", (0, 1, 3, 5), 4),
    ("C4.1", "C4", "Hồ sơ công bố tiêu chuẩn sản phẩm của cơ sở sản xuất", (0, 1, 2), 3),
    ("C4.2", "C4", "Kiểm tra định kỳ các chỉ tiêu ATTP", (0, 1, 2, 3), 4),
    ("C5.1", "C5", "Đảm bảo chất lượng sản phẩm", (0, 1, 2, 3, 4, 5), 6),
    ("C6.1", "C6", "Cơ hội thị trường toàn cầu", (1, 3, 5), 3),
]
RAU_GROUPS = {"A1": ("A", "Tổ chức sản xuất", 18), "A2": ("A", "Phát triển sản phẩm", 8),
              "A3": ("A", "Sức mạnh cộng đồng", 9), "B1": ("B", "Tiếp thị", 15),
              "B2": ("B", "Câu chuyện về sản phẩm", 10), "C1": ("C", "Chỉ tiêu cảm quan", 18),
              "C2": ("C", "Dinh dưỡng", 2), "C3": ("C", "Tính độc đáo", 5),
              "C4": ("C", "Công bố chất lượng sản phẩm", 5), "C5": ("C", "Đảm bảo chất lượng sản phẩm", 5),
              "C6": ("C", "Cơ hội thị trường toàn cầu", 5)}

CNNTTB_SHEET = [("1", "Tiêu chí về đáp ứng thị trường và khả năng phát triển sản xuất", 40),
                ("2", "Tiêu chí về kinh tế - kỹ thuật - xã hội và môi trường", 40),
                ("3", "Tiêu chí về tính văn hóa, tính thẩm mỹ", 10),
                ("4", "Một số tiêu chí khác", 10)]

GROUPS_148 = ["thực phẩm", "đồ uống", "dược liệu và sản phẩm từ dược liệu", "hàng thủ công mỹ nghệ", "sinh vật cảnh",
              "dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch"]
LINES_1048 = ["thực phẩm", "đồ uống", "thảo dược", "vải và may mặc", "lưu niệm – nội thất – trang trí",
              "dịch vụ du lịch nông thôn, bán hàng"]


# ---- OCOP 2019: the fresh-produce sheet of 1048 Annex III ---------------------------------------------------

def test_the_2019_fresh_produce_sheet_is_the_official_one_criterion_by_criterion() -> None:
    book = rulebook("ocop-2019")
    sheet = book.sheet(RAU)
    assert len(sheet.criteria) == 31
    got = [(c.code, c.group, c.label, tuple(c.allowed or ()), len(c.options or ())) for c in sheet.criteria]
    assert got == [(code, group, label, tuple(float(v) for v in allowed), n)
                   for code, group, label, allowed, n in RAU_SHEET]
    for c in sheet.criteria:
        assert c.maximum == max(c.allowed or ()), c.code
        assert c.part == c.code[0] and not c.provisional and c.guidance == []
    assert {g.code: (g.part, g.label, g.maximum) for g in sheet.groups} == RAU_GROUPS
    assert {p.code: p.maximum for p in book.parts} == {"A": 35, "B": 25, "C": 40}
    assert not sheet.provisional and "OCOP_DB" in sheet.basis  # a transcription, and it says so


def test_the_fresh_produce_sheet_keeps_the_official_oddities() -> None:
    sheet = rulebook("ocop-2019").sheet(RAU)
    # no 0-point option on items 1, 3, 5, 10, 15, 20 and 31
    assert [c.code for c in sheet.criteria if 0 not in (c.allowed or ())] == [
        "A1.1", "A1.3", "A1.5", "A3.1", "B1.1", "B2.3", "C6.1"]
    # item 11: two option lists, by type of producer
    community = next(c for c in sheet.criteria if c.code == "A3.2")
    assert {o.applies_to for o in community.options or ()} == {"công ty, hợp tác xã, tổ hợp tác", "hộ gia đình"}
    # traceability is a step of the packaging criterion, not a criterion of its own
    packaging = next(c for c in sheet.criteria if c.code == "A2.2")
    assert [o.points for o in packaging.options or () if "truy xuất nguồn gốc" in o.label] == [2, 3]
    assert not any("truy xuất" in c.label.casefold() for c in sheet.criteria)
    # the sensory criteria are judged on the samples
    assert {c.code for c in sheet.criteria if c.session is Session.SAMPLES} == {
        "A2.3", "C1.1", "C1.2", "C1.3", "C1.4", "C1.5", "C3.1"}


def test_the_2019_product_groups_are_1048s_lines_and_the_fresh_produce_sub_group() -> None:
    book = rulebook("ocop-2019")
    assert [g.label for g in book.product_groups] == ["rau, củ, quả, hạt tươi", *LINES_1048]
    assert book.sheet_for("Rau, củ, quả, hạt tươi") is book.sheet(RAU)
    assert book.sheet_for("thực phẩm") is book.sheet("general")
    assert book.sheet_for("lưu niệm - nội thất - trang trí") is book.sheet("general")  # a hyphen for the dash
    assert book.sheet_for("sinh vật cảnh") is None  # a 148 group, not a 1048 line


def _best_rau_sheet(**points: float) -> dict[str, float]:
    sheet = rulebook("ocop-2019").sheet(RAU)
    return {c.code: c.maximum for c in sheet.criteria} | {k.replace("_", "."): v for k, v in points.items()}


def test_a_score_not_among_the_allowed_values_is_refused_with_the_reason() -> None:
    history = ScoringHistory(rulebook("ocop-2019"), Level.DISTRICT, product_group="rau, củ, quả, hạt tươi")
    assert history.dossier.opened.sheet_id == RAU
    with pytest.raises(Refused) as refused:
        history.submit("m1", _best_rau_sheet(C1_2=4, A1_1=0, B1_1=4))
    assert refused.value.kind == "invalid"
    assert refused.value.detail["problems"] == [
        "A1.1: 0 is not allowed (allowed: [1.0, 2.0, 3.0])",
        "B1.1: 4 is not allowed (allowed: [1.0, 2.0, 3.0, 5.0])",
        "C1.2: 4 is not allowed (allowed: [0.0, 1.0, 3.0, 5.0, 8.0])",
    ]
    assert history.dossier.sheets == ()  # nothing recorded


def test_the_fresh_produce_sheet_scores_and_its_provisional_3_star_minimum_applies() -> None:
    history = ScoringHistory(rulebook("ocop-2019"), Level.DISTRICT, panel(3),
                             product_group="rau-cu-qua-hat-tuoi")
    # colour 5 instead of 8, story 3 instead of 5, no product standard declared (C4.1 = 1 instead of 2)
    for member in scorer_ids(history.panel):
        history.submit(member, _best_rau_sheet(C1_2=5, B2_1=3, C4_1=1))
    done = history.evaluate()
    assert isinstance(done, ScoringCompleted)
    assert done.average_total == 94 and done.band_stars == 5
    unmet = [m.code for m in done.mandatory if not m.met]
    assert unmet == ["C4.1"] and done.stars == 2  # 781's 3-star minimum (provisional) lowers the rating


# ---- CNNTTB: four groups, scored per group ---------------------------------------------------------------

@pytest.mark.parametrize("rulebook_id", ["cnnttb-2018", "cnnttb-2025"])
def test_cnnttb_scores_the_four_official_groups(rulebook_id: str) -> None:
    book = rulebook(rulebook_id)
    assert [s.id for s in book.sheets] == ["general"]
    sheet = book.sheet("general")
    assert [(c.code, c.label, c.maximum) for c in sheet.criteria] == CNNTTB_SHEET
    assert [(p.code, p.label, p.maximum) for p in book.parts] == CNNTTB_SHEET
    assert "Phụ lục số 4" in sheet.label and not sheet.provisional
    assert all(not c.provisional and c.allowed is None for c in sheet.criteria)  # whole or half points
    assert {c.code: c.session for c in sheet.criteria} == {
        "1": Session.DOSSIER, "2": Session.DOSSIER, "3": Session.SAMPLES, "4": Session.DOSSIER}


@pytest.mark.parametrize("rulebook_id", ["cnnttb-2018", "cnnttb-2025"])
def test_cnnttb_sub_items_are_guidance_only_and_labelled_so(rulebook_id: str) -> None:
    sheet = rulebook(rulebook_id).sheet("general")
    guidance = {c.code: c.guidance for c in sheet.criteria}
    assert all(guidance.values())
    for notes in guidance.values():
        for note in notes:
            assert note.scored is False and "không chấm điểm riêng" in note.label and note.basis
    # version 1's sub-criteria survive as the panel's own (unofficial) breakdown, their points as suggestions
    own = {item.label: item.suggested_points for notes in guidance.values() for note in notes
           if "không có căn cứ chính thức" in note.label for item in note.items}
    assert own == {"Mẫu mã, bao bì, nhãn mác": 10, "Tính tiện dụng, khả năng đáp ứng nhu cầu": 10,
                   "Khả năng tiêu thụ, mở rộng thị trường": 20, "Hiệu quả kinh tế": 10,
                   "Tiêu chuẩn kỹ thuật, chất lượng sản phẩm": 10, "Sử dụng lao động địa phương": 10,
                   "Bảo vệ môi trường": 10, "Bản sắc văn hóa dân tộc, tính thẩm mỹ": 10,
                   "Sử dụng nguyên liệu địa phương": 5, "Sở hữu trí tuệ, thương hiệu": 5}


def test_a_cnnttb_sheet_scores_the_groups_and_refuses_a_sub_item() -> None:
    history = ScoringHistory(rulebook("cnnttb-2025"), Level.PROVINCE, panel(3), product_group="co-khi")
    with pytest.raises(Refused) as refused:
        history.submit("m1", {"1": 35, "2": 30, "3": 8, "4": 7, "1.1": 9})
    assert refused.value.detail["problems"] == ["1.1: not a criterion of sheet general"]
    for member, first in zip(scorer_ids(history.panel), (35, 34, 33.5), strict=True):
        history.submit(member, {"1": first, "2": 30, "3": 8, "4": 7})
    done = history.evaluate()
    assert isinstance(done, ScoringCompleted)
    assert done.average_total == 79.17 and done.passed is True  # (80 + 79 + 78.5) / 3


def test_cnnttb_levels_and_dates() -> None:
    old, new = rulebook("cnnttb-2018"), rulebook("cnnttb-2025")
    assert [lr.level for lr in new.levels] == [Level.COMMUNE, Level.PROVINCE, Level.REGION, Level.NATIONAL]
    assert [lr.level for lr in old.levels] == [Level.DISTRICT, Level.PROVINCE, Level.REGION, Level.NATIONAL]
    assert str(new.in_force_from) == "2025-07-01" and str(old.in_force_from) == "2018-08-16"
    assert "38/2025/TT-BCT" in new.source.text and "sửa đổi" in new.source.text  # an amendment, not a replacement
    assert new.sheet_for("thiết bị, máy móc, dụng cụ cơ khí, linh kiện") is new.sheet("general")  # old label


# ---- OCOP 2023 / 2025 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("rulebook_id", ["ocop-2023", "ocop-2025"])
def test_148_parts_and_its_six_product_groups(rulebook_id: str) -> None:
    book = rulebook(rulebook_id)
    assert {p.code: p.maximum for p in book.parts} == {"A": 40, "B": 25, "C": 35}
    assert all(not p.provisional and "148" in p.basis for p in book.parts)
    assert [g.label for g in book.product_groups] == GROUPS_148
    for short in ("dược liệu", "thủ công mỹ nghệ", "du lịch cộng đồng, sinh thái và điểm du lịch"):
        assert book.sheet_for(short) is not None, short
    for line in ("thảo dược", "vải và may mặc", "dịch vụ du lịch nông thôn, bán hàng"):
        assert book.sheet_for(line) is None, line  # 1048's lines are not 148's groups


def test_from_6_july_2025_no_district_communes_pre_assess_provinces_rate() -> None:
    book = rulebook("ocop-2025")
    assert str(book.in_force_from) == "2025-07-06"
    assert book.level_rule(Level.DISTRICT) is None
    commune, province, national = (book.level_rule(lv) for lv in (Level.COMMUNE, Level.PROVINCE, Level.NATIONAL))
    assert commune is not None and commune.forwards == [1, 2, 3, 4, 5] and commune.recognises == []
    assert commune.provisional  # what the commune's pre-assessment lets through is not sourced
    assert province is not None and province.recognises == [3, 4] and province.forwards == [5]
    assert not province.provisional and "90" in province.basis
    assert national is not None and national.recognises == [5]


# ---- what is provisional, and why ------------------------------------------------------------------------

def _where(rulebook_id: str, version: int | None = None) -> list[str]:
    book = rulebooks().get(rulebook_id, version) if version else rulebook(rulebook_id)
    assert book is not None
    return [item.where for item in book.provisional_items()]


@pytest.mark.parametrize("rulebook_id", ["ocop-2023", "ocop-2025"])
def test_148s_criteria_mandatory_minima_and_bands_are_provisional_each(rulebook_id: str) -> None:
    book = rulebook(rulebook_id)
    where = _where(rulebook_id)
    criteria = book.sheet("general").criteria
    assert all(f"sheets/general/criteria/{c.code}" in where for c in criteria)
    assert {w.split("/")[3] for w in where if w.endswith("/mandatory")} == {"B4", "C3", "C4", "C5"}
    assert [w for w in where if w.startswith("star_bands/")] == [f"star_bands/{n}" for n in range(1, 6)]
    assert not any(w.startswith("parts/") for w in where)
    assert [w for w in where if w.startswith("levels/")] == (["levels/commune"] if rulebook_id == "ocop-2025"
                                                              else [])
    assert all(item.basis for item in book.provisional_items())


@pytest.mark.parametrize("rulebook_id", ["cnnttb-2018", "cnnttb-2025"])
def test_cnnttb_only_the_pass_marks_other_than_the_provinces_are_provisional(rulebook_id: str) -> None:
    first = "levels/district" if rulebook_id == "cnnttb-2018" else "levels/commune"
    assert _where(rulebook_id) == [first, "levels/region", "levels/national"]


def test_2019_the_fresh_produce_sheet_is_sourced_but_its_mandatory_minima_and_the_general_sheet_are_not() -> None:
    where = _where("ocop-2019")
    assert [w for w in where if w.startswith(f"sheets/{RAU}")] == [
        f"sheets/{RAU}/criteria/A2.2/mandatory", f"sheets/{RAU}/criteria/C4.1/mandatory"]
    general = rulebook("ocop-2019").sheet("general")
    assert "sheets/general" in where
    assert all(f"sheets/general/criteria/{c.code}" in where for c in general.criteria)
    assert not any(w.startswith(("parts/", "star_bands/", "levels/")) for w in where)


@pytest.mark.parametrize("rulebook_id", RULEBOOK_IDS)
def test_version_1_is_provisional_as_a_whole(rulebook_id: str) -> None:
    assert _where(rulebook_id, 1)[0] == "rulebook"


# ---- old versions replay the same -------------------------------------------------------------------------

def test_a_dossier_opened_under_version_1_is_scored_by_version_1() -> None:
    v1 = rulebooks().get("cnnttb-2025", 1)
    assert v1 is not None and v1.version == 1
    every_session = panel(3).model_copy(update={"sessions": list(Session)})  # v1 scored 2.4 on a field visit
    history = ScoringHistory(v1, Level.PROVINCE, every_session, product_group="co-khi")
    assert history.dossier.opened.rulebook_version == 1
    old_sheet = {"1.1": 9, "1.2": 9, "1.3": 18, "2.1": 8, "2.2": 9, "2.3": 7, "2.4": 8, "3.1": 8, "4.1": 4, "4.2": 3}
    for member in scorer_ids(history.panel):
        history.submit(member, old_sheet)
    done = history.evaluate()
    assert isinstance(done, ScoringCompleted)
    assert (done.rulebook_version, done.average_total, done.passed) == (1, 83, True)
    # the current version would refuse the old sub-criteria: replaying with version 1 is what keeps the result
    with pytest.raises(Refused):
        ScoringHistory(rulebook("cnnttb-2025"), Level.PROVINCE, panel(3), product_group="co-khi").submit(
            "m1", old_sheet)


# ---- the model refuses what would misstate a sheet ------------------------------------------------------------

def _rau_criterion(data: dict[str, Any], code: str) -> dict[str, Any]:
    sheet = next(s for s in data["sheets"] if s["id"] == RAU)
    return next(c for c in sheet["criteria"] if c["code"] == code)


def _refused(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        Rulebook.model_validate(data)
    return str(raised.value)


def test_allowed_points_that_differ_from_the_options_are_refused() -> None:
    data = rulebook_dict("ocop-2019")
    _rau_criterion(data, "C1.2")["allowed"] = [0, 1, 3, 5, 6, 8]
    assert "criterion C1.2: allowed points [0.0, 1.0, 3.0, 5.0, 6.0, 8.0] differ from its options'" in _refused(data)


def test_a_maximum_no_option_reaches_is_refused() -> None:
    data = rulebook_dict("ocop-2019")
    _rau_criterion(data, "C1.2")["options"].pop()  # "Rất phù hợp", 8
    assert "criterion C1.2: its best option gives 5.0, not its maximum 8" in _refused(data)


def test_a_group_whose_criteria_do_not_add_up_is_refused() -> None:
    data = rulebook_dict("ocop-2019")
    _rau_criterion(data, "C1.1")["group"] = "C2"
    message = _refused(data)
    assert f"sheet {RAU}: group C1 criteria add up to 16.0, not 18" in message
    assert f"sheet {RAU}: group C2 criteria add up to 4.0, not 2" in message


def test_a_criterion_in_an_unknown_group_is_refused() -> None:
    data = rulebook_dict("ocop-2019")
    _rau_criterion(data, "C1.1")["group"] = "Z1"
    assert f"sheet {RAU}: criterion C1.1 names unknown group Z1" in _refused(data)


def test_a_rulebook_hiding_a_provisional_item_is_refused() -> None:
    data = rulebook_dict("ocop-2023")
    data["provisional"] = False
    assert "parts of it are provisional, so the rulebook must say provisional: true" in _refused(data)


def test_guidance_cannot_be_scored() -> None:
    data = rulebook_dict("cnnttb-2025")
    data["sheets"][0]["criteria"][0]["guidance"][0]["scored"] = True
    assert "scored" in _refused(data)
