"""Notify builds a mail's bytes itself (ADR 0054), about twenty times cheaper than the email package's generator;
a mail client must read exactly what it read before: every template of every scenario composed both ways and parsed
with Python's email parser (policy ``default``), as a mail client would, gives the same headers, subject, parts and
decoded UTF-8 Vietnamese text."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest

from notify.adapters.channels import Email
from notify.mail_scenarios import all_mails

MAILS = all_mails()
CHANNEL = Email("smtp.example.vn", 25, "Ban điều phối OCOP <no-reply@binhchon.vn>")


def read(raw: bytes) -> tuple[Any, ...]:
    """What a mail client shows of a message: its headers, and each part's type, charset and decoded text."""
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    # every header as decoded; the boundary is random in both (a part's delimiter, never read as text)
    headers = [str(message[k]) if k != "Content-Type" else message.get_content_type() for k in message.keys()]
    return (message.keys(), headers, message.get_content_type(),
            message["From"].addresses[0].display_name,
            [(p.get_content_type(), p.get_content_charset(), p.get_content()) for p in message.iter_parts()])


@pytest.mark.parametrize("mail", [m for _, m in MAILS], ids=[i for i, _ in MAILS])
def test_a_mail_composed_directly_reads_as_the_email_package_wrote_it(mail: Any) -> None:
    to = mail.recipient.email or "a@example.vn"
    direct = CHANNEL.compose(to, mail.subject, mail.text, mail.html, "d" * 32)
    packaged = CHANNEL.compose_message(to, mail.subject, mail.text, mail.html, "d" * 32)
    assert direct != packaged  # built directly, not by the fallback
    assert read(direct) == read(packaged)
    [subject] = [v for k, v in zip(read(direct)[0], read(direct)[1], strict=True) if k == "Subject"]
    assert subject == " ".join(mail.subject.split())
    assert all(len(line) <= 78 for line in direct.split(b"\r\n")), "lines a server may refuse"
    assert direct.isascii()  # 7 bits: no 8BITMIME asked of the server


def test_vietnamese_text_with_long_lines_and_a_dot_line_reads_back_exactly() -> None:
    text = "Kính gửi Hợp tác xã Nông nghiệp Đông Hưng,\n\n" + "Sản phẩm đạt 4 sao. " * 30 + "\n.\nTrân trọng.\n"
    raw = CHANNEL.compose("htx@example.vn", "Kết quả đánh giá, phân hạng sản phẩm OCOP năm 2026 của tỉnh Bắc Giang",
                          text, "<p>" + "Đạt " * 50 + "</p>", "k" * 32)
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "Kết quả đánh giá, phân hạng sản phẩm OCOP năm 2026 của tỉnh Bắc Giang"
    assert message["Message-ID"] == f"<{'k' * 32}@binhchon>"
    assert message["To"] == "htx@example.vn"
    plain = message.get_body(("plain",))
    assert plain is not None and plain.get_content().splitlines() == text.splitlines()


@pytest.mark.parametrize(("to", "subject"), [
    ("Nguyễn Văn A <a@example.vn>", "Hồ sơ đã được tiếp nhận"),  # a display name: the email package quotes it
    ("a@example.vn", "Plain ASCII subject"),  # folded at spaces by the policy, as before
    ("a@example.vn", "=?utf-8?q?Gi=E1=BA=A5y?= biên nhận"),  # encoded-word syntax typed by someone
])
def test_what_compose_does_not_build_itself_goes_through_the_email_package(to: str, subject: str) -> None:
    raw = CHANNEL.compose(to, subject, "Kính gửi,\n", "<p>Kính gửi,</p>", "m1")
    assert b'boundary="===============' in raw  # the email package's own delimiter
    assert read(raw) == read(CHANNEL.compose_message(to, subject, "Kính gửi,\n", "<p>Kính gửi,</p>", "m1"))
