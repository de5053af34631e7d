"""What the browser tests share: the system's Chromium (headless, driven by Playwright), a person on their own
phone signed in on the development page, the judge's sheet filled in, and screenshots under .run/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from .council_stack import APPROVER, AUTHORITY, CHAIR, FULL

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[4]
SHOTS = REPO / ".run" / "screenshots"


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


def points(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def the_council_decides(browser: Browser, portal: str, panel: str, product: str, shot: Shots,
                        scores: dict[str, float] = FULL) -> None:
    """The panel of ``council_stack`` on an accepted dossier, each member on their own phone: one declares a
    conflict, one posts a point the sheet does not allow and sees the error, one forgets a criterion (and gives
    A1 3 points: two under the others' 5), the chair scores, closes and proposes; the approver of the round's
    authority records the decision. ``scores``: the sheet of the others (A1 5, C3 5)."""
    total = sum(scores.values())
    part_a = sum(v for k, v in scores.items() if k.startswith("A"))
    # cm-5 is related to the cooperative: declares it, and scores nothing
    related = person(browser, portal, "cm-5", "Thành viên hội đồng")
    open_dossier(related, panel, product)
    related.get_by_label("Nội dung xung đột lợi ích").fill("Em ruột là thành viên hợp tác xã")
    related.get_by_role("button", name="Khai báo và không chấm hồ sơ này").click()
    expect(related.get_by_role("status").first).to_contain_text("Đã ghi nhận khai báo xung đột lợi ích")
    expect(related.locator("#phieu-cham")).to_have_count(0)
    shot(related, "khai-bao-xung-dot")

    # cm-2 scores, first posting a 4 for C3 (the sheet allows 0, 3 or 5): the error is beside C3
    judge = person(browser, portal, "cm-2", "Thành viên hội đồng")
    open_dossier(judge, panel, product)
    shot(judge, "phieu-cham")
    fill_sheet(judge, scores)
    expect(judge.locator("#tong-diem")).to_have_text(points(total))  # the live total
    expect(judge.locator('output[data-part-total="A"]')).to_have_text(points(part_a))
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
    expect(judge.get_by_role("status").first).to_contain_text(f"Đã nộp phiếu chấm: tổng {points(total)} điểm.")

    # cm-3 forgets A2: told beside it before anything is sent, then scores 98
    other = person(browser, portal, "cm-3", "Thành viên hội đồng")
    open_dossier(other, panel, product)
    fill_sheet(other, {k: v for k, v in scores.items() if k != "A2"} | {"A1": 3})
    before = other.url
    other.get_by_role("button", name="Nộp phiếu chấm").click()
    expect(other.locator("#err-A2")).to_have_text("Chưa chấm tiêu chí này: hãy chọn một mức điểm.")
    assert other.url == before
    fill_sheet(other, {"A2": 3})
    expect(other.locator("#tong-diem")).to_have_text(points(total - 2))
    other.get_by_role("button", name="Nộp phiếu chấm").click()
    expect(other.get_by_role("status").first).to_contain_text(f"tổng {points(total - 2)} điểm")

    # the chair scores, closes (the quorum: 3 of the 4 not recused, the chair's included) and proposes
    chair = person(browser, portal, CHAIR, "Chủ tịch hội đồng")
    open_dossier(chair, panel, product)
    fill_sheet(chair, scores)
    chair.get_by_role("button", name="Nộp phiếu chấm").click()
    chair.get_by_role("button", name="Kết thúc chấm điểm").click()
    expect(chair.get_by_role("status").first).to_contain_text(
        f"Đã kết thúc chấm điểm: điểm trung bình {points((3 * total - 2) / 3)}")
    expect(chair.get_by_role("heading", name="Kết quả chấm điểm")).to_be_visible()
    shot(chair, "ket-qua-cham-diem")
    chair.get_by_role("link", name="Danh sách hồ sơ của hội đồng").click()
    shot(chair, "ho-so-cua-hoi-dong")
    chair.get_by_role("button", name="Lập đề nghị kết quả").click()
    expect(chair.get_by_role("heading", name="Bảng tổng hợp kết quả đề nghị công nhận")).to_be_visible()
    code = chair.locator(".code").inner_text()
    shot(chair, "de-nghi-ket-qua")

    # the approver starts on the proposals awaiting their authority's decision and clicks the chair's
    approver = person(browser, portal, APPROVER, "Người phê duyệt (UBND)", authority=AUTHORITY)
    expect(approver.get_by_role("heading", name="Đề nghị chờ quyết định")).to_be_visible()
    row = approver.locator("tr", has=approver.locator(f'a[href="/de-nghi/{code}"]'))
    # the round, its level, one dossier, proposed on the services' day (their clock's, not the machine's)
    expect(row.locator("td")).to_have_text([re.compile(r"\S"), "cấp tỉnh", "1", "23/11/2026"])
    shot(approver, "de-nghi-cho-quyet-dinh")
    row.get_by_role("link").click()
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
    approver.goto(f"{portal}/de-nghi")  # decided: it has left the list
    expect(approver.get_by_text("Không có đề nghị nào đang chờ quyết định của cơ quan ông/bà.")).to_be_visible()


# the filing form's fields, by their labels
FILING = {"Tên chủ thể": "Hợp tác xã Nông nghiệp Đông Hưng", "Thôn, số nhà, đường": "Thôn Đồng Mới",
          "Xã, phường, thị trấn": "Xã Đông Hưng", "Huyện, thị xã, thành phố": "Huyện Lục Nam",
          "Tỉnh, thành phố": "Tỉnh Bắc Giang", "Người liên hệ": "Nguyễn Văn Đức", "Số điện thoại": "0912 345 678",
          "Thư điện tử": "htx.donghung@example.vn", "Tên sản phẩm": "Mật ong rừng Lục Nam",
          "Mô tả sản phẩm": "Mật ong nguyên chất", "Số lượng mẫu nộp kèm": "5"}


def fill_filing_form(page: Page, registration_form: Path) -> None:
    """The filing form of Hợp tác xã Nông nghiệp Đông Hưng's honey, its registration form a PDF on disk."""
    for label, value in FILING.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Phiếu đăng ký (bắt buộc)").set_input_files(str(registration_form))


def a_pdf(page: Page, title: str) -> bytes:
    """A real PDF, printed by the browser itself."""
    page.set_content(f"<h1>{title}</h1><p>Tài liệu thử nghiệm.</p>")
    return page.pdf(format="A4")
