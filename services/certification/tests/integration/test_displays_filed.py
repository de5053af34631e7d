"""Where a registry page's products were displayed is one query by ``_id`` over the displays filed by certificate
(ADR 0050, amendment), never ``$in`` over the whole ``displays`` collection: on the real store, with displays of
other certificates, one whose number begins with another's, displays stored before the filing existed, filings
racing new displays, and a stale filing arriving after a newer one."""

from __future__ import annotations

import asyncio
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from certification.domain import ledger as rules
from certification.ledger import FILED, Ledger
from certification.ledger_views import LedgerViews

pytestmark = pytest.mark.integration

OURS, PREFIXED, OTHER = "OCOP-KG-2024-00001", "OCOP-KG-2024-000010", "OCOP-KG-2024-00002"


def display(number: str, on: str, place: str) -> dict[str, Any]:
    display_id = rules.display_id(number, "Hội chợ OCOP", on, place)
    data = {"display_id": display_id, "certificate_number": number, "round_id": "round-1",
            "exhibition": "Hội chợ OCOP", "on": on, "until": None, "place": place, "product_name": "Mật ong"}
    return {"_id": display_id, **data, "event_id": f"ev-{display_id}", "display_key": rules.display_key(data)}


class Finds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.finds: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("find", "aggregate", "count"):
            self.finds.append((event.command[event.command_name], dict(event.command.get("filter", {}))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def store(infra, unique):
    finds = Finds()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb, event_listeners=[finds])
    try:
        yield client[f"cert_filed_{unique}"], finds
    finally:
        await client.close()


def ledger(db: Any) -> Ledger:
    return Ledger(SimpleNamespace(db=db), lambda: date(2024, 12, 1))  # type: ignore[arg-type]  # only its database


async def test_a_page_reads_its_certificates_filings_in_one_query_by_id(store):
    db, finds = store
    await db["displays"].insert_many([
        display(OURS, "2024-10-10", "Rạch Giá"), display(OURS, "2024-03-01", "Cần Thơ"),
        display(PREFIXED, "2024-05-05", "Hà Nội"),
        *(display(OTHER, f"2024-01-{day:02d}", f"Nơi {day}") for day in range(1, 29))])
    # a display stored before its key and its filing existed: the ledger's setup gives it both, once
    legacy = display(OURS, "2025-01-15", "Phú Quốc")
    del legacy["display_key"]
    await db["displays"].insert_one(legacy)

    await ledger(db).setup()
    assert await db[FILED].count_documents({}) == 3
    await ledger(db).setup()  # a second start files nothing again
    assert await db["read_model_keys"].find_one({"_id": f"{FILED}.v1"}) == {"_id": f"{FILED}.v1", "filed": 3}

    finds.finds.clear()
    shown = await LedgerViews(db).displayed_at([OURS, PREFIXED, "OCOP-KG-2024-00003", OURS])
    assert [d["place"] for d in shown[OURS]] == ["Cần Thơ", "Rạch Giá", "Phú Quốc"]  # by date
    assert shown[OURS][0] == {"exhibition": "Hội chợ OCOP", "on": "2024-03-01", "until": None, "place": "Cần Thơ",
                              "code": None}
    assert [d["place"] for d in shown[PREFIXED]] == ["Hà Nội"]
    assert shown["OCOP-KG-2024-00003"] == []
    # one query, by `_id` among the page's numbers: nothing asks the displays collection
    assert finds.finds == [(FILED, {"_id": {"$in": ["OCOP-KG-2024-00001", "OCOP-KG-2024-000010",
                                                    "OCOP-KG-2024-00003"]}})]


async def test_filings_racing_new_displays_end_with_every_display(store):
    db, _ = store
    await ledger(db).setup()
    days = [f"2024-{month:02d}-01" for month in range(1, 13)]

    async def displayed(day: str) -> None:
        await db["displays"].insert_one(display(OURS, day, f"Hội chợ {day}"))
        await ledger(db).file_displays(OURS)  # what follows each display's projection

    await asyncio.gather(*(displayed(day) for day in days))
    filed = await db[FILED].find_one({"_id": OURS})
    assert filed is not None and filed["count"] == 12
    assert [d["on"] for d in filed["displays"]] == days


async def test_a_stale_filing_never_replaces_a_newer_one(store):
    """A filing made from fewer displays (a replica that read before the last display landed) arriving after
    the newer one leaves the newer one stored."""
    db, _ = store
    await ledger(db).setup()
    newer = [display(OURS, "2024-02-02", "Huế"), display(OURS, "2024-03-03", "Vinh")]
    await db[FILED].insert_one({"_id": OURS, "count": 2, "displays": rules.displays_filed(newer)})
    await db["displays"].insert_one(newer[0])  # the stale writer sees one display only
    await ledger(db).file_displays(OURS)
    filed = await db[FILED].find_one({"_id": OURS})
    assert filed is not None and filed["count"] == 2 and [d["place"] for d in filed["displays"]] == ["Huế", "Vinh"]


@pytest.mark.xfail(strict=True, reason="defect (review27): a display an older replica projects after the new one's "
                   "start has no display_key and no filing, and both markers are set: nothing files it again")
async def test_a_display_projected_by_an_older_replica_after_the_deploy_is_still_shown(store):
    """A rolling upgrade: the new replica has started (keys filled, displays filed, both markers set) while an
    older one still records displays. Its fold gives no ``display_key`` and it runs no follower; its projector
    marks the event. A later start of a new replica, and a later display of the same certificate filed by a new
    one, must still show it on the registry and the verify page."""
    db, _ = store
    await ledger(db).setup()
    older = display(OURS, "2024-06-06", "Đà Lạt")
    del older["display_key"]  # the older replica's projection: no key, no filing
    await db["displays"].insert_one(older)
    await ledger(db).setup()  # a new replica restarting
    await db["displays"].insert_one(display(OURS, "2024-07-07", "Huế"))
    await ledger(db).file_displays(OURS)  # the new display's follower
    shown = await LedgerViews(db).displayed_at([OURS])
    assert [d["place"] for d in shown[OURS]] == ["Đà Lạt", "Huế"]


async def test_a_refiling_with_as_many_displays_shows_them_as_the_read_model_holds_them_now(store):
    """A rebuild's follower refiles every certificate (ADR 0050): after a fold or the filed fields change, the
    displays are as many as before but shown otherwise; the filing must take the read model's current form, not
    keep the one a previous version wrote (``count`` equal is the same displays: they are only ever added)."""
    db, _ = store
    await ledger(db).setup()
    now = display(OURS, "2024-02-02", "Huế, Thừa Thiên Huế")
    await db["displays"].insert_one(now)
    before = {**now, "place": "Hue"}  # as an earlier version filed it
    await db[FILED].replace_one({"_id": OURS}, {"_id": OURS, "count": 1, "displays": rules.displays_filed([before])},
                                upsert=True)
    await ledger(db).file_displays(OURS)
    filed = await db[FILED].find_one({"_id": OURS})
    assert filed is not None and filed["count"] == 1 and filed["displays"][0]["place"] == "Huế, Thừa Thiên Huế"
