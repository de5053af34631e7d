"""Who is told of a substitution (``panel.member_substituted``), from the facts notify keeps."""

from __future__ import annotations

from datetime import UTC, datetime

from binhchon_kit.contracts.scoring import MemberSubstituted, PanelMember
from notify.adapters.templates import context_for
from notify.domain.messages import messages_for
from notify.mail_scenarios import TEMPLATES, recorded, render_all

PANEL = {"name": "Hội đồng OCOP tỉnh", "members": []}
SCORING = {"product_name": "Miến dong", "sample_code": "TP-07"}
ROUND = {"code": "BG-26", "title": "Đánh giá sản phẩm OCOP tỉnh Bắc Giang năm 2026", "schedule": {}}


def _substituted(email: str | None) -> MemberSubstituted:
    return MemberSubstituted(dossier_id="dossier-7", round_id="round-1", panel_id="panel-1", replaces="gk-2",
                             substitute=PanelMember(id="gk-5", name="Đỗ Minh Tuấn", organisation="Sở Công Thương",
                                                    role="member", email=email),  # type: ignore[arg-type]
                             reason="Thành viên có quan hệ họ hàng với chủ thể sản xuất")


def test_a_substitute_without_an_address_is_not_written_to() -> None:
    event = recorded(_substituted(None), "dossier-7", 1)
    assert messages_for(event, producer=None, panel=PANEL, approvers=[], contacts={}, round_=ROUND,
                        scoring=SCORING) == []


def test_a_round_without_a_scoring_deadline_tells_the_substitute_but_sets_no_reminder() -> None:
    event = recorded(_substituted("tuan@example.vn"), "dossier-7", 1)
    [message] = messages_for(event, producer=None, panel=PANEL, approvers=[], contacts={}, round_=ROUND,
                             scoring=SCORING)
    assert message.template == "panel.member_substituted" and message.due_at is None
    _, text, _ = TEMPLATES.render(message.template, context_for(message, None, certification_url="", intake_url=""))
    assert text.splitlines()[0] == "Kính gửi Đỗ Minh Tuấn,"
    assert "Đề nghị ông/bà hoàn thành phiếu chấm điểm trước khi kết thúc thời gian chấm điểm." in text


def test_the_substitute_is_reminded_when_the_judges_are() -> None:
    reminders = {m.recipient.id: m for m in render_all("short") if m.template == "score.reminder"}
    assert reminders["gk-5"].text.splitlines()[0] == "Kính gửi Đỗ Minh Tuấn,"
    assert reminders["gk-5"].subject == reminders["gk-1"].subject


def test_a_substitute_named_after_the_reminders_morning_is_not_reminded_at_once() -> None:
    # recorded 23/11/2026 06:26 in Hà Nội
    event = recorded(_substituted("tuan@example.vn"), "dossier-7", 1)
    closes = {**ROUND, "schedule": {"scoring_closes": "2026-11-23"}}  # reminders: 08:00 on 22/11, past
    assert [m.template for m in messages_for(event, producer=None, panel=PANEL, approvers=[], contacts={},
                                             round_=closes, scoring=SCORING)] == ["panel.member_substituted"]
    later = {**ROUND, "schedule": {"scoring_closes": "2026-11-25"}}
    messages = messages_for(event, producer=None, panel=PANEL, approvers=[], contacts={}, round_=later,
                            scoring=SCORING)
    assert [(m.template, m.due_at) for m in messages] == [
        ("panel.member_substituted", None), ("score.reminder", datetime(2026, 11, 24, 1, tzinfo=UTC))]
