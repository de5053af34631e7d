"""The bundled rulebooks load, say what DOMAIN.md says, and a broken rulebook is refused with its problem named."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from binhchon_kit.contracts.common import Level, Programme
from scoring.adapters.rulebooks import BUNDLED, RulebookError, Rulebooks
from scoring.domain.rulebook import Rulebook

from .scoring_builders import RULEBOOK_IDS, rulebook, rulebook_dict, rulebooks

OCOP = ("ocop-2019", "ocop-2023", "ocop-2025")
CNNTTB = ("cnnttb-2018", "cnnttb-2025")


def test_all_five_bundled_rulebooks_load_with_their_earlier_versions() -> None:
    loaded = Rulebooks.load()
    assert sorted(b.id for b in loaded.all_current()) == sorted(RULEBOOK_IDS)
    assert sorted(p.stem for p in BUNDLED.glob("*.yaml")) == sorted(RULEBOOK_IDS)
    for rulebook_id in RULEBOOK_IDS:
        book = loaded.current(rulebook_id)
        assert book is not None and loaded.get(rulebook_id, book.version) is book
        # version 1 stays loadable under archive/, so what was scored under it replays the same
        # the CNNTTB rulebooks' version 3 says they score by code (issue 16); the sheet is version 2's
        latest = 3 if rulebook_id in CNNTTB else 2
        assert loaded.versions(rulebook_id) == list(range(1, latest + 1)) and book.version == latest
        assert all((BUNDLED / "archive" / f"{rulebook_id}.v{v}.yaml").is_file() for v in range(1, latest))
        assert book.changes.strip(), "a new version says what it changed"


@pytest.mark.parametrize("rulebook_id", RULEBOOK_IDS)
def test_each_file_validates_on_its_own(rulebook_id: str) -> None:
    book = Rulebook.model_validate(rulebook_dict(rulebook_id))
    assert book == rulebook(rulebook_id)
    assert book.id == rulebook_id


@pytest.mark.parametrize(("rulebook_id", "version"), [(i, v) for i in RULEBOOK_IDS for v in (1, 2)])
def test_criteria_add_up_to_each_part_and_parts_to_100(rulebook_id: str, version: int) -> None:
    book = rulebooks().get(rulebook_id, version)
    assert book is not None
    assert sum(p.maximum for p in book.parts) == 100
    for sheet in book.sheets:
        for part in book.parts:
            assert sum(c.maximum for c in sheet.criteria if c.part == part.code) == part.maximum, (sheet.id, part)
        for group in sheet.groups:
            assert sum(c.maximum for c in sheet.criteria if c.group == group.code) == group.maximum, group
        assert sum(c.maximum for c in sheet.criteria) == 100
        assert {c.part for c in sheet.criteria} == {p.code for p in book.parts}


@pytest.mark.parametrize(("rulebook_id", "maxima"), [
    ("ocop-2019", {"A": 35, "B": 25, "C": 40}),
    ("ocop-2023", {"A": 40, "B": 25, "C": 35}),
    ("ocop-2025", {"A": 40, "B": 25, "C": 35}),
    ("cnnttb-2018", {"1": 40, "2": 40, "3": 10, "4": 10}),
    ("cnnttb-2025", {"1": 40, "2": 40, "3": 10, "4": 10}),
])
def test_part_maxima(rulebook_id: str, maxima: dict[str, float]) -> None:
    assert {p.code: p.maximum for p in rulebook(rulebook_id).parts} == maxima


@pytest.mark.parametrize("rulebook_id", RULEBOOK_IDS)
def test_programme_follows_the_id(rulebook_id: str) -> None:
    expected = Programme.OCOP if rulebook_id.startswith("ocop") else Programme.CNNTTB
    assert rulebook(rulebook_id).programme is expected


def _levels(rulebook_id: str) -> list[Level]:
    return [lr.level for lr in rulebook(rulebook_id).levels]


def test_ocop_2025_has_a_commune_level_and_no_district() -> None:
    levels = _levels("ocop-2025")
    assert Level.COMMUNE in levels and Level.DISTRICT not in levels
    assert rulebook("ocop-2025").level_rule(Level.DISTRICT) is None
    assert rulebook("ocop-2025").level_rule(Level.PROVINCE).recognises == [3, 4]  # type: ignore[union-attr]


def test_ocop_2023_and_2019_start_at_the_district() -> None:
    for rulebook_id in ("ocop-2019", "ocop-2023"):
        assert _levels(rulebook_id) == [Level.DISTRICT, Level.PROVINCE, Level.NATIONAL]


def test_cnnttb_levels() -> None:
    assert _levels("cnnttb-2018") == [Level.DISTRICT, Level.PROVINCE, Level.REGION, Level.NATIONAL]
    assert _levels("cnnttb-2025") == [Level.COMMUNE, Level.PROVINCE, Level.REGION, Level.NATIONAL]


@pytest.mark.parametrize("rulebook_id", CNNTTB)
def test_cnnttb_province_pass_mark_is_70_and_confirmed(rulebook_id: str) -> None:
    rule = rulebook(rulebook_id).level_rule(Level.PROVINCE)
    assert rule is not None
    assert rule.pass_mark == 70 and rule.pass_mark_confirmed
    assert rule.forwards_passed and rule.next_level is Level.REGION
    national = rulebook(rulebook_id).level_rule(Level.NATIONAL)
    assert national is not None and not national.forwards_passed and national.next_level is None
    # every CNNTTB level has a pass mark; only the province's is confirmed by a source
    assert all(lr.pass_mark is not None for lr in rulebook(rulebook_id).levels)
    assert [lr.level for lr in rulebook(rulebook_id).levels if lr.pass_mark_confirmed] == [Level.PROVINCE]


@pytest.mark.parametrize("rulebook_id", OCOP)
def test_ocop_certificates_are_valid_36_months(rulebook_id: str) -> None:
    assert rulebook(rulebook_id).certificate_validity_months == 36


@pytest.mark.parametrize("rulebook_id", OCOP)
def test_ocop_star_bands_are_the_1048_bands(rulebook_id: str) -> None:
    bands = {b.stars: b.minimum for b in rulebook(rulebook_id).star_bands}
    assert bands == {1: 0, 2: 30, 3: 50, 4: 70, 5: 90}


@pytest.mark.parametrize("rulebook_id", RULEBOOK_IDS)
def test_every_file_is_provisional_with_a_source(rulebook_id: str) -> None:
    book = rulebook(rulebook_id)
    assert book.provisional is True
    assert book.source.text.strip()
    assert book.source.urls and all(u.startswith("http") for u in book.source.urls)


@pytest.mark.parametrize("rulebook_id", RULEBOOK_IDS)
def test_two_decimals_half_up_and_a_ten_point_outlier(rulebook_id: str) -> None:
    book = rulebook(rulebook_id)
    assert (book.rounding.decimals, book.rounding.mode.value) == (2, "half_up")
    assert book.outlier_points == 10


@pytest.mark.parametrize("rulebook_id", RULEBOOK_IDS)
def test_every_product_group_finds_its_sheet_by_code_or_label(rulebook_id: str) -> None:
    book = rulebook(rulebook_id)
    for group in book.product_groups:
        assert unicodedata.is_normalized("NFC", group.label)  # intake sends NFC text
        assert book.sheet_for(group.code) is book.sheet(group.sheet)
        assert book.sheet_for(f"  {group.label.upper()} ") is book.sheet(group.sheet)
    assert book.sheet_for("không có nhóm này") is None


def test_ocop_mandatory_criteria_in_2023() -> None:
    sheet = rulebook("ocop-2023").sheet("general")
    mandatory = {c.code: (c.mandatory.for_stars, c.mandatory.minimum) for c in sheet.criteria if c.mandatory}
    assert mandatory == {"B4": (3, 2), "C3": (3, 3), "C4": (4, 5), "C5": (5, 3)}


@pytest.mark.parametrize("rulebook_id", RULEBOOK_IDS)
def test_mandatory_minimum_is_reachable(rulebook_id: str) -> None:
    for sheet in rulebook(rulebook_id).sheets:
        for c in sheet.criteria:
            if c.mandatory is not None:
                assert c.mandatory.minimum <= c.maximum
                assert c.allowed is None or any(a >= c.mandatory.minimum for a in c.allowed)


# ---- validation refuses broken rulebooks -------------------------------------------------------------------

def _criterion(data: dict[str, Any], code: str) -> dict[str, Any]:
    return next(c for c in data["sheets"][0]["criteria"] if c["code"] == code)


def _parts_not_100(d: dict[str, Any]) -> None:
    d["parts"][0]["maximum"] = 45
    _criterion(d, "A8")["maximum"] = 12  # the part's criteria still add up to its maximum


def _criteria_not_part_maximum(d: dict[str, Any]) -> None:
    _criterion(d, "A1")["maximum"] = 6


def _last_criterion_dropped(d: dict[str, Any]) -> None:
    d["sheets"][0]["criteria"].pop()  # group 4, 10 points


def _duplicate_code(d: dict[str, Any]) -> None:
    _criterion(d, "A2")["code"] = "A1"


def _allowed_above_maximum(d: dict[str, Any]) -> None:
    _criterion(d, "B4")["allowed"] = [0, 2, 3, 6]


def _unknown_sheet(d: dict[str, Any]) -> None:
    d["product_groups"][0]["sheet"] = "khong-co"


def _unknown_part(d: dict[str, Any]) -> None:
    _criterion(d, "A1")["part"] = "Z"


def _bands_not_1_to_5(d: dict[str, Any]) -> None:
    d["star_bands"] = [b for b in d["star_bands"] if b["stars"] != 5]


def _bands_not_starting_at_0(d: dict[str, Any]) -> None:
    next(b for b in d["star_bands"] if b["stars"] == 1)["minimum"] = 10


def _bands_not_rising(d: dict[str, Any]) -> None:
    next(b for b in d["star_bands"] if b["stars"] == 4)["minimum"] = 95


def _no_bands(d: dict[str, Any]) -> None:
    d["star_bands"] = []


@pytest.mark.parametrize(("rulebook_id", "breaks", "named"), [
    ("ocop-2023", _parts_not_100, "parts add up to 105"),
    ("ocop-2023", _criteria_not_part_maximum, "sheet general: part A criteria add up to 41"),
    ("cnnttb-2025", _last_criterion_dropped, "part 4 criteria add up to 0"),
    ("ocop-2023", _duplicate_code, "a criterion code appears twice"),
    ("ocop-2023", _allowed_above_maximum, "criterion B4: allowed points must lie within 0..5"),
    ("ocop-2023", _unknown_sheet, "product group thuc-pham uses unknown sheet khong-co"),
    ("ocop-2023", _unknown_part, "criterion A1 names unknown part Z"),
    ("ocop-2023", _bands_not_1_to_5, "OCOP star bands must be 1..5"),
    ("ocop-2019", _bands_not_starting_at_0, "the 1-star band starting at 0"),
    ("ocop-2025", _bands_not_rising, "star band minima must rise with the stars"),
    ("ocop-2025", _no_bands, "OCOP star bands must be 1..5"),
    ("cnnttb-2018", lambda d: d["levels"][1].pop("pass_mark"), "level province has no pass mark"),
    ("cnnttb-2025", lambda d: d["levels"][0].update(pass_mark=None), "level commune has no pass mark"),
], ids=["parts-not-100", "criteria-not-part-maximum", "cnnttb-criterion-missing", "duplicate-code",
        "allowed-above-maximum", "unknown-sheet", "unknown-part", "bands-not-1-5", "bands-not-from-0",
        "bands-not-rising", "no-bands", "cnnttb-no-pass-mark", "cnnttb-pass-mark-none"])
def test_a_broken_rulebook_is_refused_with_the_problem_named(
        rulebook_id: str, breaks: Callable[[dict[str, Any]], Any], named: str) -> None:
    data = rulebook_dict(rulebook_id)
    breaks(data)
    with pytest.raises(ValidationError) as raised:
        Rulebook.model_validate(data)
    assert named in str(raised.value)


def test_all_problems_are_named_at_once() -> None:
    data = rulebook_dict("ocop-2023")
    _criterion(data, "A1")["maximum"] = 6
    _unknown_sheet(data)
    _bands_not_rising(data)
    with pytest.raises(ValidationError) as raised:
        Rulebook.model_validate(data)
    message = str(raised.value)
    assert "rulebook ocop-2023 v2" in message
    for named in ("part A criteria add up to 41", "unknown sheet khong-co", "must rise"):
        assert named in message


def test_a_negative_allowed_value_is_refused() -> None:
    data = rulebook_dict("ocop-2023")
    _criterion(data, "C3")["allowed"] = [-1, 3, 5]
    with pytest.raises(ValidationError, match="criterion C3: allowed points must lie within"):
        Rulebook.model_validate(data)


def test_unknown_fields_are_refused() -> None:
    data = rulebook_dict("ocop-2023")
    data["pass_mark"] = 50
    with pytest.raises(ValidationError, match="pass_mark"):
        Rulebook.model_validate(data)


def test_two_files_with_the_same_id_and_version_are_refused(tmp_path: Any) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text((BUNDLED / "ocop-2023.yaml").read_text(encoding="utf-8"),
                                               encoding="utf-8")
    with pytest.raises(RulebookError, match="share an id and version"):
        Rulebooks.load(tmp_path)


def test_a_broken_file_stops_loading_with_the_file_named(tmp_path: Any) -> None:
    text = (BUNDLED / "ocop-2023.yaml").read_text(encoding="utf-8").replace(
        "{code: B, label: \"Phần B: Khả năng tiếp thị\", maximum: 25,",
        "{code: B, label: \"Phần B: Khả năng tiếp thị\", maximum: 30,")
    assert "maximum: 30," in text
    (tmp_path / "ocop-2023.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(RulebookError, match=r"(?s)ocop-2023\.yaml: .*parts add up to 105"):
        Rulebooks.load(tmp_path)


def test_a_newer_version_in_the_archive_layout_is_the_current_one(tmp_path: Any) -> None:
    (tmp_path / "archive").mkdir()
    current = rulebook_dict("ocop-2023")
    (tmp_path / "archive" / "ocop-2023.v2.yaml").write_text(
        (BUNDLED / "ocop-2023.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "ocop-2023.yaml").write_text(yaml.safe_dump({**current, "version": 3}, allow_unicode=True),
                                             encoding="utf-8")
    loaded = Rulebooks.load(tmp_path)
    assert loaded.current("ocop-2023").version == 3  # type: ignore[union-attr]
    assert loaded.get("ocop-2023", 2) is not None and loaded.versions("ocop-2023") == [2, 3]
    assert rulebooks().current("ocop-2023").version == 2  # type: ignore[union-attr]


def test_an_archived_version_above_the_current_file_is_refused(tmp_path: Any) -> None:
    (tmp_path / "archive").mkdir()
    current = rulebook_dict("ocop-2023")
    (tmp_path / "ocop-2023.yaml").write_text((BUNDLED / "ocop-2023.yaml").read_text(encoding="utf-8"),
                                             encoding="utf-8")
    (tmp_path / "archive" / "ocop-2023.v3.yaml").write_text(
        yaml.safe_dump({**current, "version": 3}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RulebookError, match="version 2 is the current file, but version 3 of ocop-2023 is archived"):
        Rulebooks.load(tmp_path)
