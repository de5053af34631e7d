"""Notify's reminders found by their ``_id`` on the real store (issue 14: a query on ``dossier_id`` read every
reminder ever made, for each sheet): a sheet cancels its judge's reminder only, a completion every reminder of its
dossier and none of a dossier whose id its own is a prefix of, and a sheet read again cancels nothing more."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.memory import FixedClock, memory_runtime
from notify.adapters.channels import Webhook
from notify.adapters.templates import Templates
from notify.service import Notify

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def notify_on(db: Any) -> Notify:
    clock = FixedClock(NOW)
    svc = Notify(memory_runtime(ServiceSettings(service_name="notify"), {}, clock), Templates(None),
                 None, Webhook(), certification_url="", intake_url="", clock=clock)  # type: ignore[arg-type]
    svc.db = db  # the reminders and deliveries on the real store
    return svc


async def pending(db: Any) -> list[str]:
    return sorted([d["_id"] async for d in db["deliveries"].find({"status": "pending"})])


async def test_a_sheet_cancels_its_judges_reminder_a_completion_its_dossiers(mongo, unique):
    db = mongo[f"notify_{unique}"]
    svc = notify_on(db)
    links = [(d, m) for d in ("d1", "d10", "d1:x") for m in ("gk-1", "gk-2", "gk-3")]
    for dossier, member in links:
        delivery = f"mail-{dossier}-{member}"
        await db["deliveries"].insert_one({"_id": delivery, "status": "pending"})
        await db["reminders"].insert_one({"_id": f"{dossier}:{member}", "dossier_id": dossier, "member_id": member,
                                          "delivery": delivery})
    everyone = sorted(f"mail-{d}-{m}" for d, m in links)

    await svc._no_reminder("d1", "gk-2")
    await svc._no_reminder("d1", "gk-2")  # the sheet read again: nothing more
    assert await pending(db) == [m for m in everyone if m != "mail-d1-gk-2"]

    await svc._no_reminder("d1", None)  # scoring.completed
    assert await pending(db) == [m for m in everyone if not m.startswith("mail-d1-")]
    assert {d["_id"] async for d in db["reminders_off"].find({})} == {"d1:gk-2", "d1:*"}
