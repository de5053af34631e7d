"""A substitute member (``panel.member_substituted``) is told, in Vietnamese, which product of which round they now
score and why, and is reminded with the panel's judges unless they scored: at the mail catcher, with the
substitution read before the round and panel it needs (it waits for them, ADR 0006)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from binhchon_kit.contracts.intake import RoundOpened
from binhchon_kit.contracts.scoring import (
    JudgeRecused,
    MemberSubstituted,
    PanelFormed,
    ScoreSubmitted,
    ScoringOpened,
)
from binhchon_kit.eventstore import EventStore
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.samples import round_body
from notify.main import build

from .support import Clock, vietnam_time
from .test_notify_delivery import Mailbox, notify_settings, publish

pytestmark = pytest.mark.integration

MEMBERS = [{"id": f"gk-{k}", "name": name, "organisation": "Sở Công Thương", "email": f"gk{k}@example.vn",
            "role": "chair" if k == 1 else "member"}
           for k, name in ((1, "Nguyễn Thị Hà"), (2, "Lê Văn Bình"), (3, "Trần Quốc Toản"))]


def _substitute(dossier: str, round_id: str, k: int, name: str, replaces: str) -> MemberSubstituted:
    return MemberSubstituted(
        dossier_id=dossier, round_id=round_id, panel_id="panel-1", replaces=replaces,
        substitute={"id": f"gk-{k}", "name": name, "organisation": "Trường Đại học Nông Lâm Bắc Giang",  # type: ignore[arg-type]
                    "role": "member", "email": f"gk{k}@example.vn"},
        reason=f"Thành viên {replaces} có quan hệ họ hàng với chủ thể sản xuất")


async def test_a_substitute_is_told_and_reminded_unless_they_scored(infra, mongo, unique, topic_prefix, dev_keys,
                                                                   mailbox: Mailbox) -> None:
    clock = Clock()
    round_id, dossier = f"round-{unique}", f"dossier-{unique}"
    db = mongo[f"notify_{unique}"]
    closes = clock.today() + timedelta(days=6)
    body = round_body(f"S{unique}", today=clock.today())
    body["schedule"]["scoring_closes"] = closes.isoformat()
    opened = ScoringOpened(dossier_id=dossier, round_id=round_id, programme="OCOP", level="province",  # type: ignore[arg-type]
                           rulebook_id="ocop-2023", rulebook_version=1, sheet_id="general", product_group="thực phẩm",
                           product_name="Miến dong Sơn Động", producer_name="HTX Sơn Động", sample_code="TP-07")
    sheet = ScoreSubmitted(sheet_id="s-6", member_id="gk-6", scoring_round=1, rulebook_id="ocop-2023",
                           rulebook_version=1, score_sheet="general", scores=[], total=80)
    app = build(notify_settings(infra, unique, topic_prefix, str(dev_keys[1]), mailbox), clock=clock)
    async with running(app, "http://notify"):
        # gk-2 and gk-3 are recused; gk-5 and gk-6 stand in; gk-6 scores at once. All read before the round
        # and its panel are known: the substitutions wait for them
        await publish(mongo, infra, topic_prefix, unique, "scoring", [
            (dossier, opened),
            (dossier, JudgeRecused(member_id="gk-2", reason="quan hệ họ hàng")),
            (dossier, _substitute(dossier, round_id, 5, "Đỗ Minh Tuấn", "gk-2")),
            (dossier, JudgeRecused(member_id="gk-3", reason="quan hệ họ hàng")),
            (dossier, _substitute(dossier, round_id, 6, "Vũ Thị Lan", "gk-3")),
            (dossier, sheet)])
        await eventually(lambda: _count(db["parked"], {"type": "panel.member_substituted", "status": "waiting"}, 2),
                         what="the substitutions waiting for their round and panel")
        parked = await db["parked"].find_one({"type": "panel.member_substituted"})
        assert set(parked["needs"]) == {f"panel:{round_id}", f"round:{round_id}"}
        assert mailbox.messages == []
        # a recusal and a sheet only mark their judge as not to be reminded: no inbox entry guards that (ADR 0053,
        # 2026-11-30); the events that tell (or wait to) are in the inbox
        await eventually(lambda: _count(db["reminders_off"], {}, 3), what="the two recusals and the sheet marked")
        marks = {d["_id"] async for d in db["reminders_off"].find({})}
        assert marks == {f"{dossier}:gk-2", f"{dossier}:gk-3", f"{dossier}:gk-6"}
        assert sorted([d["type"] async for d in db["inbox"].find({})]) == [
            "panel.member_substituted", "panel.member_substituted", "scoring.opened"]

        await publish(mongo, infra, topic_prefix, unique, "intake", [
            (round_id, RoundOpened.model_validate({**body, "round_id": round_id}))])
        await publish(mongo, infra, topic_prefix, unique, "scoring", [
            (round_id, PanelFormed(panel_id="panel-1", round_id=round_id, name="Hội đồng OCOP tỉnh",
                                                   members=MEMBERS, quorum={"fraction": 0.75},  # type: ignore[arg-type]
                                                   sessions=["dossier"]))])  # type: ignore[list-item]
        await eventually(lambda: _mails(mailbox, 5), what="the panel's three assignments and two substitutions")
        await eventually(lambda: _count(db["parked"], {"status": "handled"}, 3), what="nothing left waiting")
        reminders = {d["recipient_id"]: d async for d in db["deliveries"].find({"template": "score.reminder"})}
        due = vietnam_time(closes - timedelta(days=1), 8)
        assert {k: (d["status"], d["due_at"]) for k, d in reminders.items()} == {
            "gk-1": ("pending", due), "gk-2": ("cancelled", due), "gk-3": ("cancelled", due),
            "gk-5": ("pending", due), "gk-6": ("cancelled", due)}

        # the sheet delivered again (a redelivery has no inbox entry to stop it): the same mark, the reminder stays
        # cancelled, nothing queued
        [again] = [e async for e in EventStore(mongo[f"scoring_{unique}"], source="/binhchon/scoring").read_all()
                   if e.type == "score.submitted"]
        await app.state.notify.on_event(again)
        assert {d["recipient_id"]: d["status"] async for d in db["deliveries"].find({"template": "score.reminder"})
                } == {k: d["status"] for k, d in reminders.items()}

        clock.move_to(due + timedelta(minutes=1))
        app.state.notify.wake.set()
        await eventually(lambda: _mails(mailbox, 7), what="the reminders to gk-1 and the substitute gk-5")
        await eventually(lambda: _count(db["deliveries"], {"status": "pending"}, 0), what="every delivery settled")
        assert await app.state.notify.deliver_due() == 0 \
            and await db["deliveries"].count_documents({"due_key": {"$exists": True}}) == 0

    told = [m for m in mailbox.messages if m["Subject"].startswith("Phân công chấm điểm thay thế")]
    assert sorted(m["To"] for m in told) == ["gk5@example.vn", "gk6@example.vn"]
    tuan = next(m for m in told if m["To"] == "gk5@example.vn")
    assert tuan["Subject"] == 'Phân công chấm điểm thay thế hồ sơ sản phẩm "Miến dong Sơn Động"'
    lines = tuan.get_body(("plain",)).get_content().splitlines()
    assert lines[0] == "Kính gửi Đỗ Minh Tuấn,"
    assert ("Ông/bà được bổ sung làm thành viên hội đồng của Hội đồng OCOP tỉnh để chấm điểm hồ sơ sản phẩm "
            '"Miến dong Sơn Động" (mã mẫu TP-07), thay cho một thành viên không tham gia chấm hồ sơ này.') in lines
    assert f"Đợt đánh giá: {body['title']} (mã đợt S{unique})." in lines
    assert "Lý do: Thành viên gk-2 có quan hệ họ hàng với chủ thể sản xuất" in lines
    assert f"Đề nghị ông/bà hoàn thành phiếu chấm điểm chậm nhất ngày {closes:%d/%m/%Y}." in lines
    reminded = [m for m in mailbox.messages if m["Subject"].startswith("Nhắc chấm điểm")]
    assert sorted(m["To"] for m in reminded) == ["gk1@example.vn", "gk5@example.vn"]
    substitute = next(m for m in reminded if m["To"] == "gk5@example.vn").get_body(("plain",)).get_content()
    assert substitute.startswith("Kính gửi Đỗ Minh Tuấn,") and '"Miến dong Sơn Động" (mã mẫu TP-07)' in substitute
    ids = [m["Message-ID"] for m in mailbox.messages]
    assert len(ids) == len(set(ids)) == 7  # each once


async def _mails(mailbox: Mailbox, n: int) -> bool | None:
    assert len(mailbox.messages) <= n, [(m["To"], m["Subject"]) for m in mailbox.messages]
    return len(mailbox.messages) == n or None


async def _count(collection: Any, query: dict[str, Any], n: int) -> bool | None:
    return await collection.count_documents(query) == n or None
