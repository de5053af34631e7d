"""No CR/LF from an applicant's text reaches a mail header (issue 13): every template rendered with a product
name, a producer and a round title holding CRLF and a forged header, composed by the real Email channel, and
parsed from its bytes with Python's email parser (policy ``default``) as a mail client would."""

from __future__ import annotations

import dataclasses
import email
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from notify.adapters.channels import Email
from notify.mail_scenarios import TEMPLATES, VARIANTS, render_all

FORGED = "\r\nBcc: victim@example.com\r\nX-Injected: yes\r\n\r\nSpilled into the body"
HOSTILE = dataclasses.replace(
    VARIANTS["short"], product="Miến dong" + FORGED, second_product="Mật ong\nX-Injected: yes",
    round_title="Đợt 1\r\nX-Injected: yes", ceremony="Lễ công bố\u2028X-Injected: yes", panel="Hội đồng\rBcc: x@y",
    authority="UBND\x0bBcc: x@y")


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> list[EmailMessage]:
    monkeypatch.setitem(VARIANTS, "hostile", HOSTILE)
    channel = Email("smtp.example.vn", 25, "Văn phòng OCOP <ocop@example.vn>")
    mails = []
    for n, mail in enumerate(render_all("hostile")):
        raw = channel.compose(mail.recipient.email or "a@example.vn", mail.subject, mail.text, mail.html, f"m{n}")
        mails.append(email.message_from_bytes(raw, policy=default_policy))  # type: ignore[arg-type]
    return mails


def test_every_template_was_rendered_with_hostile_text(hostile: list[EmailMessage]) -> None:
    assert {m["Subject"] for m in hostile}
    assert len(hostile) >= len(TEMPLATES.names())


def test_no_header_is_forged_and_no_subject_is_cut(hostile: list[EmailMessage]) -> None:
    for message in hostile:
        assert message["Bcc"] is None and message["X-Injected"] is None, message["Subject"]
        assert set(message.keys()) <= {"From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type"}
        subject = str(message["Subject"])
        assert "\r" not in subject and "\n" not in subject
        body = message.get_body(("plain",))
        assert body is not None
        assert not body.get_content().startswith(("Bcc", "X-Injected", "Spilled")), subject


def test_a_name_in_a_subject_stays_whole_on_one_line(hostile: list[EmailMessage]) -> None:
    subjects = [str(m["Subject"]) for m in hostile]
    whole = "Miến dong Bcc: victim@example.com X-Injected: yes Spilled into the body"
    assert any(whole in s for s in subjects), subjects
