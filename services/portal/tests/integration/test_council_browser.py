"""The council in a real browser (the system's Chromium, headless, driven by Playwright, on a phone's screen)
against intake and scoring on the real broker and store, the portal in front: judges score a dossier (one declares
a conflict of interest, one posts a point the sheet does not allow and sees the error beside the field), the chair
closes scoring and proposes, the approver decides; and a judge reaches neither another panel's dossier nor other
judges' marks before completion, by the pages or by editing the address. Screenshots under .run/screenshots/."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from .browsing import Shots, open_dossier, person, the_council_decides
from .council_stack import CHAIR, FULL, MEMBERS, Stack, council_stack

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(infra: Any, dev_keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("BINHCHON_DEV_KEYS", str(dev_keys[0].parent))  # the dev sign-in mints with the test's key
    with council_stack(infra, uuid.uuid4().hex[:10], dev_keys) as found:
        yield found


@pytest.mark.timeout(600)
def test_judges_score_the_chair_proposes_and_the_approver_decides(stack: Stack, browser: Browser) -> None:
    shot = Shots("hoi-dong")
    round_id = stack.open_round("BG1", "Hội đồng OCOP tỉnh Bắc Giang", CHAIR, MEMBERS)
    dossier = stack.accepted_dossier(round_id, "Mật ong rừng Lục Nam", "TP-01")

    the_council_decides(browser, stack.portal, "Hội đồng OCOP tỉnh Bắc Giang", "Mật ong rừng Lục Nam", shot)

    with stack.client("scoring", "to-giup-viec", "secretariat") as scoring:
        decided = scoring.get(f"/dossiers/{dossier}").json()
    assert decided["status"] == "approved" and decided["recused"] == ["cm-5"]
    assert decided["result"]["totals"] == {CHAIR: 100, "cm-2": 100, "cm-3": 98}
    assert decided["decision"]["decision"]["number"] == "1234/QĐ-UBND"
    print("[screenshots]", *shot.taken, sep="\n  ")


@pytest.mark.timeout(600)
def test_a_judge_reaches_no_other_panel_and_no_other_marks(stack: Stack, browser: Browser) -> None:
    shot = Shots("hoi-dong-khac")
    ours = stack.open_round("BG2", "Hội đồng OCOP tỉnh Bắc Giang", CHAIR, MEMBERS)
    theirs = stack.open_round("HN2", "Hội đồng OCOP đợt 2", "cm-9", ("gk-1", "gk-2", "gk-3"))
    dossier = stack.accepted_dossier(ours, "Mật ong rừng Lục Nam", "TP-01")
    elsewhere = stack.accepted_dossier(theirs, "Nón lá làng Chuông", "TC-07")
    stack.score(dossier, "cm-3", {**FULL, "B1": 2.5, "C4": 3.5})  # 86,00: cm-3's marks, sealed from cm-2
    stack.score(elsewhere, "gk-1", {**FULL, "B1": 6.5})

    judge = person(browser, stack.portal, "cm-2", "Thành viên hội đồng")
    expect(judge.get_by_role("heading", name="Hội đồng của tôi")).to_be_visible()
    expect(judge.get_by_role("link", name="Hội đồng OCOP tỉnh Bắc Giang")).to_have_count(1)
    expect(judge.get_by_role("link", name="Hội đồng OCOP đợt 2")).to_have_count(0)
    open_dossier(judge, "Hội đồng OCOP tỉnh Bắc Giang", "Mật ong rừng Lục Nam")
    expect(judge.locator("#tong-diem")).to_have_text("0,00")
    body = judge.locator("main").inner_text()
    assert "Số phiếu đã nộp\n1" in body or "Số phiếu đã nộp 1" in body
    assert not re.search(r"(?<![\d,])86,00", body)  # not cm-3's total
    assert not re.search(r"\b(checked|selected)\b", judge.content())  # nor any mark of theirs on the sheet
    shot(judge, "phieu-niem-phong")

    for address in (f"/hoi-dong/ho-so/{elsewhere}", f"/hoi-dong/dot/{theirs}",
                    f"/de-nghi/proposal-{uuid.uuid4()}"):
        answer = judge.goto(stack.portal + address)
        assert answer is not None and answer.status in (403, 404), address
        expect(judge.get_by_role("heading", name="Không thực hiện được")).to_be_visible()
        text = judge.locator("main").inner_text()
        assert "Nón lá làng Chuông" not in text and "6,50" not in text and "96,50" not in text
    answer = judge.goto(f"{stack.portal}/hoi-dong/ho-so/{elsewhere}")
    assert answer is not None and answer.status == 403
    expect(judge.get_by_role("alert")).to_have_text("Tài khoản của ông/bà không có quyền thực hiện thao tác này.")
    shot(judge, "tu-choi-ho-so-hoi-dong-khac")
    # the form of another panel's dossier, posted by hand, records nothing
    r = judge.request.post(f"{stack.portal}/hoi-dong/ho-so/{elsewhere}/phieu-cham",
                           form={"csrf": "doan", **{f"c-{k}": f"{v:g}" for k, v in FULL.items()}})
    assert r.status == 403
    with stack.client("scoring", "to-giup-viec", "secretariat") as scoring:
        assert scoring.get(f"/dossiers/{elsewhere}/score-sheets").json()["submitted"] == ["gk-1"]
    print("[screenshots]", *shot.taken, sep="\n  ")
