"""The season `make demo` loads: its score sheets add up to the totals it aims at, with every mandatory criterion
met, and its mail summary groups subjects as people read them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from binhchon_tools.scenario import DISTRICTS, MANDATORY, mail_kind, sheet

RULEBOOK = Path(__file__).resolve().parents[2] / "services/scoring/src/scoring/rulebooks/ocop-2023.yaml"


@pytest.fixture(scope="module")
def full() -> dict[str, int]:
    criteria = yaml.safe_load(RULEBOOK.read_text())["sheets"][0]["criteria"]
    return {c["code"]: c["maximum"] for c in criteria}


def test_every_target_is_reached_with_the_mandatory_criteria_at_their_maximum(full):
    for producers in DISTRICTS.values():
        for p in producers:
            for total in (p.target - 1, p.target, p.target + 1):
                scores = sheet(full, total)
                assert sum(scores.values()) == total
                assert all(scores[code] == points for code, points in MANDATORY.items())
                assert all(0 <= scores[code] <= full[code] for code in full)


def test_a_target_below_the_mandatory_floor_is_refused(full):
    with pytest.raises(ValueError):
        sheet(full, sum(MANDATORY.values()) - 1)


def test_mail_subjects_are_grouped_without_what_differs_per_dossier():
    assert mail_kind("[OCOP-BG-2DB4] Giấy biên nhận hồ sơ số OCOP-BG-2DB4-00001") == "Giấy biên nhận hồ sơ …"
    assert mail_kind('Kết quả đánh giá sản phẩm "Bánh đa Kế": 4 sao') == "Kết quả đánh giá sản phẩm …: 4 sao"
    assert mail_kind("Giấy chứng nhận số OCOP-UBNDTBG-2026-00001") == "Giấy chứng nhận …"
    # numbers by authority id (ADR 0029) carry a dot: one kind for every authority
    for number in ("OCOP-T.24-2026-00001", "OCOP-H.219-2026-00002", "CNNTTB-KV.MB-2026-00003"):
        assert mail_kind(f"Giấy chứng nhận số {number}") == "Giấy chứng nhận …"
