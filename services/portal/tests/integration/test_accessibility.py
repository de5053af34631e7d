"""Every main page a producer, an official or a visitor sees, audited in a real browser (the system's Chromium,
headless, driven by Playwright) at a phone's size and a desktop's: axe-core's WCAG 2.1 A and AA rules (a serious
or critical violation fails the test, naming the page, the rule and the element), no English word a framework
leaks in what the page shows, and the judge's score sheet done with the keyboard alone (each criterion and the
submit button reached with Tab, the focus drawn so that it shows). One stack for all: the four services on the
real broker and store, the portal in front, one round taken from filing to a certificate on /verify."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from .auditing import PHONE, Audit, focus_visible, tab_through
from .browsing import a_pdf, fill_filing_form, person
from .council_stack import CHAIR, FULL, MEMBERS, Stack, eventually

pytestmark = pytest.mark.integration

PANEL, PRODUCER, REGNO = "Hội đồng OCOP tỉnh Bắc Giang", "htx-dong-hung", "2400123456"
FOUR_STARS = {**FULL, "B1": 0, "C1": 0}  # 80 points: a province's own certificate



def forbidden_form(page: Page) -> None:
    """The page's first form posted with a CSRF token that is not the session's: the portal's 403 page."""
    with page.expect_navigation():
        page.evaluate("""() => { const f = document.querySelector('form:has(input[name=csrf])');
                                 f.querySelector('input[name=csrf]').value = 'khong-hop-le'; f.submit(); }""")


def the_audit_sees(page: Page) -> None:
    """The audit itself finds what it looks for, on a page made wrong on purpose: faint text, a field with no label,
    an English button."""
    page.set_content('<html><body><main><p style="color:#bbb">Mờ</p><input name="x"><button>Submit</button>'
                     '</main></body></html>')
    probe = Audit()
    probe.here(page, "mẫu sai")
    rules = {line.split(": ")[1].split(" ")[0] for line in probe.violations}
    assert {"color-contrast", "label", "html-has-lang"} <= rules, probe.violations
    assert probe.english == ["mẫu sai: “Submit”"]


def keyboard_only(page: Page) -> list[str]:
    """The score sheet with the Tab key alone: every criterion (its radio group or its list) and the submit button
    reached, each showing where the focus is. What fails, said."""
    wanted = set(page.locator("#phieu-cham [name^='c-']").evaluate_all("els => els.map(e => e.name)"))
    assert len(wanted) == len(FULL), "the sheet's criteria"
    reached = tab_through(page)
    names = {f["name"] for f in reached if f["name"].startswith("c-")}
    problems = [f"phiếu chấm điểm: {name} not reached with Tab" for name in sorted(wanted - names)]
    if not any(f["tag"] == "button" and f["text"] == "Nộp phiếu chấm" for f in reached):
        problems.append("phiếu chấm điểm: the submit button not reached with Tab")
    problems += [f"phiếu chấm điểm: focus not visible on {f}" for f in reached if not focus_visible(f)]
    return problems


@pytest.mark.timeout(600)
def test_every_main_page_is_accessible_and_vietnamese(full_stack: Stack, browser: Browser, tmp_path: Path) -> None:
    stack = full_stack
    audit, portal = Audit(), stack.portal
    round_id = stack.open_round("A11", PANEL, CHAIR, MEMBERS)
    with stack.client("intake", "mot-cua", "secretariat") as counter:  # bound at the counter (ADR 0037)
        r = counter.post("/bindings", json={"applicant_id": PRODUCER, "registration_number": REGNO,
                                            "note": "Đã kiểm tra giấy chứng nhận đăng ký hợp tác xã",
                                            "producer_kind": "cooperative"})
        assert r.status_code == 201, r.text
    scored = stack.accepted_dossier(round_id, "Chè Tân Cương", "TP-01")

    # anyone: the sign-in pages and the error pages
    visitor = browser.new_context(viewport=PHONE, locale="vi-VN").new_page()  # type: ignore[arg-type]
    the_audit_sees(visitor)
    audit.visit(visitor, "đăng nhập", f"{portal}/dang-nhap")
    audit.visit(visitor, "đăng nhập thử nghiệm", f"{portal}/dang-nhap/thu-nghiem")
    audit.visit(visitor, "lỗi 404", f"{portal}/khong-co-trang-nay", status=404)
    audit.visit(visitor, "lỗi 405", f"{portal}/dang-xuat", status=405)

    # the producer: their dossiers, the open rounds, the filing form, the receipt, the dossier's history
    producer = person(browser, portal, PRODUCER, "Chủ thể sản xuất (nộp hồ sơ)")
    audit.here(producer, "chủ thể: hồ sơ của tôi")
    eventually(lambda: producer.goto(f"{portal}/dot") and producer.get_by_text("Mã đợt: A11").count(), "the round")
    audit.here(producer, "chủ thể: đợt đang nhận hồ sơ")
    audit.visit(producer, "chủ thể: nộp hồ sơ", f"{portal}/dot/{round_id}/nop-ho-so")
    (tmp_path / "phieu-dang-ky.pdf").write_bytes(a_pdf(producer.context.new_page(), "Phiếu đăng ký sản phẩm"))
    fill_filing_form(producer, tmp_path / "phieu-dang-ky.pdf")
    producer.get_by_role("button", name="Nộp hồ sơ", exact=True).click()
    expect(producer.get_by_role("heading", name="PHIẾU TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ")).to_be_visible(
        timeout=30_000)
    filed = producer.url.split("/ho-so/")[1].split("/")[0]
    audit.here(producer, "chủ thể: phiếu tiếp nhận")
    audit.visit(producer, "chủ thể: hồ sơ và quá trình xử lý", f"{portal}/ho-so/{filed}")
    audit.visit(producer, "lỗi 404 (đã đăng nhập)", f"{portal}/khong-co-trang-nay", status=404)
    forbidden_form(producer)
    audit.here(producer, "lỗi 403 (biểu mẫu hết hạn)")

    # the secretariat: its rounds, a new round, the round's dashboard, the completeness check, panel, scoring
    office = person(browser, portal, "tran-thi-mai", "Tổ giúp việc (tiếp nhận hồ sơ)")
    audit.here(office, "tổ giúp việc: các đợt")
    audit.visit(office, "tổ giúp việc: mở đợt", f"{portal}/to-giup-viec/mo-dot")
    eventually(lambda: office.goto(f"{portal}/to-giup-viec/dot/{round_id}")
               and office.get_by_role("link", name="Chè Tân Cương").count() + office.locator(
                   f"a[href='/to-giup-viec/ho-so/{filed}']").count() >= 2, "both dossiers on the dashboard")
    audit.here(office, "tổ giúp việc: bảng theo dõi đợt")
    audit.visit(office, "tổ giúp việc: kiểm tra tính đầy đủ", f"{portal}/to-giup-viec/ho-so/{filed}")
    audit.visit(office, "tổ giúp việc: hội đồng", f"{portal}/to-giup-viec/dot/{round_id}/hoi-dong")
    audit.visit(office, "tổ giúp việc: chấm điểm", f"{portal}/to-giup-viec/dot/{round_id}/cham-diem")
    audit.visit(office, "tổ giúp việc: lễ trao", f"{portal}/to-giup-viec/dot/{round_id}/le-trao")

    # a judge: their panels, the round's dossiers, the score sheet (also with the keyboard alone)
    judge = person(browser, portal, "cm-2", "Thành viên hội đồng")
    audit.here(judge, "thành viên: hội đồng của tôi")
    audit.visit(judge, "thành viên: hồ sơ của hội đồng", f"{portal}/hoi-dong/dot/{round_id}")
    audit.visit(judge, "thành viên: phiếu chấm điểm", f"{portal}/hoi-dong/ho-so/{scored}")
    audit.violations += keyboard_only(judge)

    # the chair closes the scoring and proposes; the approver decides
    for member in ("cm-2", "cm-3", "cm-4"):
        stack.score(scored, member, FOUR_STARS)
    chair = person(browser, portal, CHAIR, "Chủ tịch hội đồng")
    audit.visit(chair, "chủ tịch: phiếu chấm điểm", f"{portal}/hoi-dong/ho-so/{scored}")
    chair.get_by_role("button", name="Nộp phiếu chấm").click()  # the sheet is still empty: told beside each
    audit.here(chair, "chủ tịch: phiếu chấm chưa hợp lệ")
    stack.score(scored, CHAIR, FOUR_STARS, role="council_chair")
    chair.reload()
    chair.get_by_role("button", name="Kết thúc chấm điểm").click()
    expect(chair.get_by_role("heading", name="Kết quả chấm điểm")).to_be_visible()
    audit.here(chair, "chủ tịch: kết quả chấm điểm")
    audit.visit(chair, "chủ tịch: hồ sơ của hội đồng", f"{portal}/hoi-dong/dot/{round_id}")
    chair.get_by_role("button", name="Lập đề nghị kết quả").click()
    expect(chair.get_by_role("heading", name="Bảng tổng hợp kết quả đề nghị công nhận")).to_be_visible()
    audit.here(chair, "chủ tịch: đề nghị kết quả")
    code = chair.locator(".code").inner_text()

    approver = person(browser, portal, "ubnd-bg", "Người phê duyệt (UBND)", authority="province:24")
    audit.here(approver, "phê duyệt: tìm đề nghị")
    approver.get_by_label("Mã đề nghị").fill(code)
    approver.get_by_role("button", name="Xem đề nghị").click()
    audit.here(approver, "phê duyệt: đề nghị")
    approver.get_by_label("Số quyết định").fill("1234/QĐ-UBND")
    approver.get_by_label("Ngày quyết định (ngày/tháng/năm)").fill("20/12/2026")
    approver.get_by_label("Người ký").fill("Nguyễn Văn Phó Chủ tịch")
    approver.get_by_role("button", name="Ghi quyết định").click()
    expect(approver.get_by_role("cell", name="Đã có quyết định công nhận")).to_be_visible()
    audit.here(approver, "phê duyệt: đã ghi quyết định")

    # the producer's result with its certificate; the public registry and /verify
    with stack.client("certification", "to-giup-viec", "secretariat") as certification:
        number = eventually(lambda: certification.get("/certificates", params={"dossier_id": scored}).json()["items"],
                            "the certificate", seconds=90)[0]["number"]
    audit.visit(producer, "chủ thể: kết quả và giấy chứng nhận", f"{portal}/ho-so/{scored}/ket-qua")
    public = stack.urls["certification"]
    audit.visit(visitor, "công khai: danh sách được chứng nhận", f"{public}/registry")
    audit.visit(visitor, "công khai: xác minh giấy chứng nhận", f"{public}/verify/{number}")
    audit.visit(visitor, "công khai: không có giấy chứng nhận", f"{public}/verify/OCOP-KHONG-CO", status=404)
    audit.visit(visitor, "công khai: bộ lọc sai (địa chỉ sửa tay)", f"{public}/registry?year=1999&limit=500",
                status=422)
    expect(visitor.get_by_role("alert")).to_contain_text("Năm công nhận: từ năm 2010 đến năm 2100.")

    print(audit.report())
    problems = audit.violations + [f"English on {e}" for e in audit.english]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
