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
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .council_stack import APPROVER, AUTHORITY, CHAIR, FULL, MEMBERS, Stack, council_stack

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[4] / ".run" / "screenshots"


@pytest.fixture
def stack(infra: Any, dev_keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("BINHCHON_DEV_KEYS", str(dev_keys[0].parent))  # the dev sign-in mints with the test's key
    with council_stack(infra, uuid.uuid4().hex[:10], dev_keys) as found:
        yield found


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


class Shots:
    def __init__(self, prefix: str) -> None:
        self.prefix, self.taken = prefix, []
        SHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Page, name: str) -> Path:
        path = SHOTS / f"{self.prefix}-{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        print(f"[screenshot] {path}")
        return path


def person(browser: Browser, portal: str, subject: str, role_label: str, authority: str = "") -> Page:
    """A person on their own phone (their own cookies), signed in on the development page."""
    page = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN").new_page()
    page.goto(f"{portal}/dang-nhap/thu-nghiem")
    page.get_by_label("Mã người dùng").fill(subject)
    page.get_by_label("Họ và tên").fill(subject)
    page.get_by_label(role_label).check()
    if authority:
        page.get_by_label("Cơ quan phê duyệt").fill(authority)
    page.get_by_role("button", name="Đăng nhập").click()
    return page


def fill_sheet(page: Page, scores: dict[str, float]) -> None:
    for code, points in scores.items():
        select = page.locator(f'select[name="c-{code}"]')
        if select.count():
            select.select_option(f"{points:g}")
        else:
            page.locator(f'input[name="c-{code}"][value="{points:g}"]').check()


def open_dossier(page: Page, panel: str, product: str) -> None:
    expect(page.get_by_role("heading", name="Hội đồng của tôi")).to_be_visible()
    page.get_by_role("link", name=panel).click()
    page.get_by_role("link", name=product).click()
    expect(page.get_by_role("heading", name="Phiếu chấm điểm sản phẩm")).to_be_visible()


@pytest.mark.timeout(600)
def test_judges_score_the_chair_proposes_and_the_approver_decides(stack: Stack, browser: Browser) -> None:
    shot = Shots("hoi-dong")
    round_id = stack.open_round("BG1", "Hội đồng OCOP tỉnh Bắc Giang", CHAIR, MEMBERS)
    dossier = stack.accepted_dossier(round_id, "Mật ong rừng Lục Nam", "TP-01")

    # cm-5 is related to the cooperative: declares it, and scores nothing
    related = person(browser, stack.portal, "cm-5", "Thành viên hội đồng")
    open_dossier(related, "Hội đồng OCOP tỉnh Bắc Giang", "Mật ong rừng Lục Nam")
    related.get_by_label("Nội dung xung đột lợi ích").fill("Em ruột là thành viên hợp tác xã")
    related.get_by_role("button", name="Khai báo và không chấm hồ sơ này").click()
    expect(related.get_by_role("status").first).to_contain_text("Đã ghi nhận khai báo xung đột lợi ích")
    expect(related.locator("#phieu-cham")).to_have_count(0)
    shot(related, "khai-bao-xung-dot")

    # cm-2 scores, first posting a 4 for C3 (the sheet allows 0, 3 or 5): the error is beside C3
    judge = person(browser, stack.portal, "cm-2", "Thành viên hội đồng")
    open_dossier(judge, "Hội đồng OCOP tỉnh Bắc Giang", "Mật ong rừng Lục Nam")
    shot(judge, "phieu-cham")
    fill_sheet(judge, FULL)
    expect(judge.locator("#tong-diem")).to_have_text("100,00")  # the live total
    expect(judge.locator('output[data-part-total="A"]')).to_have_text("40,00")
    judge.evaluate("""() => { const c3 = document.querySelector('input[name="c-C3"][value="5"]');
                              c3.value = "4"; c3.checked = true; }""")
    judge.get_by_role("button", name="Nộp phiếu chấm").click()
    expect(judge.locator("#err-C3")).to_have_text("Điểm 4,00 không được phép cho tiêu chí này. Các mức được phép: "
                                                  "0,00; 3,00; 5,00.")
    expect(judge.locator(".criterion.invalid")).to_have_count(1)
    shot(judge, "loi-diem-khong-cho-phep")
    judge.locator('input[name="c-C3"][value="5"]').check()
    expect(judge.locator("#err-C3")).to_have_text("")
    judge.get_by_role("button", name="Nộp phiếu chấm").click()
    expect(judge.get_by_role("status").first).to_contain_text("Đã nộp phiếu chấm: tổng 100,00 điểm.")

    # cm-3 forgets A2: told beside it before anything is sent, then scores 98
    other = person(browser, stack.portal, "cm-3", "Thành viên hội đồng")
    open_dossier(other, "Hội đồng OCOP tỉnh Bắc Giang", "Mật ong rừng Lục Nam")
    fill_sheet(other, {k: v for k, v in FULL.items() if k != "A2"} | {"A1": 3})
    before = other.url
    other.get_by_role("button", name="Nộp phiếu chấm").click()
    expect(other.locator("#err-A2")).to_have_text("Chưa chấm tiêu chí này: hãy chọn một mức điểm.")
    assert other.url == before
    fill_sheet(other, {"A2": 3})
    expect(other.locator("#tong-diem")).to_have_text("98,00")
    other.get_by_role("button", name="Nộp phiếu chấm").click()
    expect(other.get_by_role("status").first).to_contain_text("tổng 98,00 điểm")

    # the chair scores, closes (the quorum: 3 of the 4 not recused, the chair's included) and proposes
    chair = person(browser, stack.portal, CHAIR, "Chủ tịch hội đồng")
    open_dossier(chair, "Hội đồng OCOP tỉnh Bắc Giang", "Mật ong rừng Lục Nam")
    fill_sheet(chair, FULL)
    chair.get_by_role("button", name="Nộp phiếu chấm").click()
    chair.get_by_role("button", name="Kết thúc chấm điểm").click()
    expect(chair.get_by_role("status").first).to_contain_text("Đã kết thúc chấm điểm: điểm trung bình 99,33")
    expect(chair.get_by_role("heading", name="Kết quả chấm điểm")).to_be_visible()
    shot(chair, "ket-qua-cham-diem")
    chair.get_by_role("link", name="Danh sách hồ sơ của hội đồng").click()
    shot(chair, "ho-so-cua-hoi-dong")
    chair.get_by_role("button", name="Lập đề nghị kết quả").click()
    expect(chair.get_by_role("heading", name="Bảng tổng hợp kết quả đề nghị công nhận")).to_be_visible()
    code = chair.locator(".code").inner_text()
    shot(chair, "de-nghi-ket-qua")

    approver = person(browser, stack.portal, APPROVER, "Người phê duyệt (UBND)", authority=AUTHORITY)
    approver.get_by_label("Mã đề nghị").fill(code)
    approver.get_by_role("button", name="Xem đề nghị").click()
    expect(approver.get_by_text("Cơ quan quyết định: UBND tỉnh Bắc Giang")).to_be_visible()
    approver.get_by_label("Số quyết định").fill("1234/QĐ-UBND")
    approver.get_by_label("Ngày quyết định (ngày/tháng/năm)").fill("20/12/2026")
    approver.get_by_label("Người ký").fill("Nguyễn Văn Phó Chủ tịch")
    shot(approver, "phe-duyet")
    approver.get_by_role("button", name="Ghi quyết định").click()
    expect(approver.get_by_role("status").first).to_have_text(
        "Đã ghi quyết định số 1234/QĐ-UBND: 1 hồ sơ được công nhận, 0 hồ sơ không được công nhận.")
    expect(approver.get_by_role("cell", name="Đã có quyết định công nhận")).to_be_visible()
    shot(approver, "da-phe-duyet")

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
