"""Every template, rendered from realistic events the way the service renders it, reads as a Vietnamese letter:
it greets its recipient by name, and shows no English, ISO dates, seconds, decimal points or enum values."""

from __future__ import annotations

import re

import pytest

from notify.mail_scenarios import TEMPLATES, VARIANTS, Rendered, all_mails, render_all

MAILS = all_mails()
# words a producer must not meet: English, and the events' machine values (levels, codes, document kinds, None)
ENGLISH_OR_CODES = re.compile(
    r"\b(the|is|not|are|level|recognised|recognized|points?|district|province|region|national|commune|check|"
    r"result|below_level|mandatory_unmet|none|true|false|null|dossier|round|undefined)\b", re.IGNORECASE)
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
TIME_WITH_SECONDS = re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b")
# a point between digits, unless it groups thousands as Vietnamese write đồng (5.000.000 đồng)
DECIMAL_POINT = re.compile(r"\b(?!\d{1,3}(?:\.\d{3})+ đồng)\d+\.\d+\b")
SNAKE_CASE = re.compile(r"\b[a-z]+_[a-z_]+\b")
URL = re.compile(r"https?://\S+")


def test_every_template_has_a_realistic_mail_here() -> None:
    rendered = {mail.template for _, mail in MAILS}
    assert rendered == set(TEMPLATES.names())


@pytest.mark.parametrize(("mail"), [m for _, m in MAILS], ids=[i for i, _ in MAILS])
def test_every_mail_greets_its_recipient_by_name(mail: Rendered) -> None:
    greeting = mail.text.splitlines()[0]
    assert mail.recipient.name.strip()
    assert greeting == f"Kính gửi {mail.recipient.name},", greeting


@pytest.mark.parametrize(("mail"), [m for _, m in MAILS], ids=[i for i, _ in MAILS])
def test_every_mail_reads_vietnamese_throughout(mail: Rendered) -> None:
    for part in (mail.subject, URL.sub("", mail.text)):
        found = {what: pattern.findall(part) for what, pattern in [
            ("English or a code", ENGLISH_OR_CODES), ("ISO date", ISO_DATE), ("time with seconds", TIME_WITH_SECONDS),
            ("decimal point", DECIMAL_POINT), ("snake_case value", SNAKE_CASE)]}
        assert not any(found.values()), (found, part)
        assert "{{" not in part and not re.search(r"\S {2,}\S", part), part  # nothing left out mid-sentence


def _one(template: str, case: str = "", variant: str = "short") -> Rendered:
    return next(m for m in render_all(variant) if m.template == template and m.case == case)


def test_the_receipt_shows_the_moment_of_receipt_in_vietnam_time() -> None:
    receipt = _one("dossier.received")  # received 2026-11-22T23:26Z
    assert "Thời gian tiếp nhận: 23/11/2026 06:26 (+07:00)\n" in receipt.text
    assert "Ngày hẹn trả kết quả kiểm tra hồ sơ: 26/11/2026\n" in receipt.text


@pytest.mark.parametrize(("case", "sentence"), [
    ("below_level", "Lý do: 2 sao (49,00 điểm) chưa đạt mức được công nhận ở cấp huyện."),
    ("mandatory_unmet", "Lý do: 2 sao (49,00 điểm) chưa đạt mức được công nhận ở cấp huyện; sản phẩm chưa đáp ứng "
                        "tiêu chí bắt buộc: Nguồn gốc nguyên liệu."),
    ("legacy", "Lý do: Sản phẩm chưa đạt mức 3 sao để được công nhận ở cấp huyện"),  # no code: the event's reason
])
def test_the_not_recognised_reason_is_made_from_its_code_and_parameters(case: str, sentence: str) -> None:
    mail = _one("result.not_recognised", case)
    assert sentence in mail.text.splitlines(), mail.text
    assert "đạt 49,00 điểm (2 sao) và chưa được công nhận ở cấp huyện." in mail.text


def test_the_mandatory_criteria_unmet_are_each_named() -> None:
    mail = _one("result.not_recognised", "mandatory_unmet", "long")
    assert all(criterion in mail.text for criterion in VARIANTS["long"].unmet)


def test_the_prize_and_the_fee_paid_say_the_amount_in_dong_and_the_reference() -> None:
    prize, fee = _one("award.paid"), _one("fee.paid")
    assert "Tiền thưởng 5.000.000 đồng cho sản phẩm \"Miến dong\"" in prize.text
    assert "Số chứng từ chi trả: UNC-017/2026." in prize.text.splitlines()
    assert prize.recipient.id == "producer:2400123456"
    assert fee.recipient.id == "gk-2" and fee.recipient.name == "Lê Văn Bình"
    assert "buổi chấm sản phẩm trực tiếp là 1.500.000 đồng, đã được chi trả ngày 12/01/2027." in fee.text


def test_the_ceremony_shows_its_time_as_people_write_it() -> None:
    invitation = _one("ceremony.invitation")
    assert "vào lúc 08:30 ngày 09/01/2027 tại Nhà văn hóa tỉnh Bắc Giang" in invitation.text
    confirmation = _one("ceremony.confirmation")
    assert confirmation.subject == "Xác nhận tham dự Lễ công bố sản phẩm OCOP ngày 09/01/2027"
    assert "(lúc 08:30 ngày 09/01/2027, tại" in confirmation.text


def test_a_rescheduled_date_says_which_promise_moved() -> None:
    assert "Ngày hẹn trả kết quả kiểm tra hồ sơ mới: 01/12/2026 (thay cho ngày 26/11/2026)." in \
        _one("dossier.rescheduled", "check").text
    assert "Ngày hẹn trả kết quả đánh giá mới: 15/01/2027." in _one("dossier.rescheduled", "result").text


def test_a_supplement_request_names_document_kinds_in_words() -> None:
    mail = _one("dossier.supplement_requested")
    assert "- Bản tự công bố chất lượng (bản tự công bố chất lượng sản phẩm)\n" in mail.text
    assert "- Ảnh nhãn sản phẩm rõ nét\n" in mail.text


def test_the_chair_is_told_which_product_finished_scoring() -> None:
    mail = _one("scoring.completed")
    assert mail.subject == 'Hồ sơ sản phẩm "Miến dong" (BG-26-00007) đã chấm điểm xong'
    assert "điểm trung bình 78,50, 4 sao." in mail.text


def test_a_producer_with_two_certificates_is_invited_once_to_receive_both() -> None:
    names = VARIANTS["short"]
    mails = [m for m in render_all("short") if m.case == "two_certificates"]
    assert sorted(m.template for m in mails) == ["ceremony.confirmation", "ceremony.invitation"]
    invitation = next(m for m in mails if m.template == "ceremony.invitation")
    assert "để nhận các giấy chứng nhận:\n" f'- số {names.certificate_number} cho sản phẩm "{names.product}";\n' \
           f'- số {names.second_certificate_number} cho sản phẩm "{names.second_product}".\n' in invitation.text
    confirmation = next(m for m in mails if m.template == "ceremony.confirmation")
    assert f'- "{names.second_product}" (số {names.second_certificate_number}).\n' in confirmation.text


def test_a_substitute_is_told_the_product_the_round_the_reason_and_the_deadline() -> None:
    names = VARIANTS["short"]
    mail = _one("panel.member_substituted")
    assert mail.recipient.email == "tuan@example.vn"
    assert mail.subject == f'Phân công chấm điểm thay thế hồ sơ sản phẩm "{names.product}"'
    lines = mail.text.splitlines()
    assert f'Ông/bà được bổ sung làm thành viên hội đồng của {names.panel} để chấm điểm hồ sơ sản phẩm ' \
           f'"{names.product}" (mã mẫu TP-07), thay cho một thành viên không tham gia chấm hồ sơ này.' in lines
    assert f"Đợt đánh giá: {names.round_title} (mã đợt {names.round_code})." in lines
    assert "Lý do: Ông Lê Văn Bình có quan hệ họ hàng với chủ thể sản xuất nên không tham gia chấm hồ sơ này." \
        in lines
    assert "Đề nghị ông/bà hoàn thành phiếu chấm điểm chậm nhất ngày 05/12/2026." in lines
    reminders = [m for m in render_all("short") if m.template == "score.reminder"]
    assert sorted(m.recipient.id for m in reminders) == ["gk-1", "gk-2", "gk-5"]  # the substitute, like the judges
