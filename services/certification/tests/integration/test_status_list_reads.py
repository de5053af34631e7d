"""A status list's revoked bits are read page by page from the certificates' ``(status, page_key)`` index and
their entries by ``_id`` (issue 10: no endpoint reads a whole collection): on the real store, with revoked
certificates over several pages and in two lists, valid ones between them, and a revoked one whose entry is in
another list."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from certification.domain import certificates as certs
from certification.vc import status
from certification.vc.credentials import LIST_SIZE

pytestmark = pytest.mark.integration


class Finds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.finds: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("find", "aggregate", "count"):
            self.finds.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_revoked_bits_are_read_by_index_a_page_at_a_time(infra, unique, monkeypatch):
    finds = Finds()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb, event_listeners=[finds])
    try:
        db = client[f"cert_status_{unique}"]
        await db["certificates"].create_index([("status", 1), ("page_key", 1)])
        revoked = {n for n in range(40) if n % 3 == 0}
        await db["certificates"].insert_many([
            {"_id": f"certificate-{n}", "status": certs.REVOKED if n in revoked else certs.VALID,
             "page_key": f"2026-11-{n:04d}"} for n in range(40)])
        # positions: the first 30 in list 0, the rest in list 1
        await db["status_entries"].insert_many([
            {"_id": f"certificate-{n}", "position": n if n < 30 else LIST_SIZE + n, "list": 0 if n < 30 else 1}
            for n in range(40)])
        monkeypatch.setattr(status, "REVOKED_PAGE", 4)  # 14 revoked: four pages

        finds.finds.clear()
        assert await status.revoked_indexes(db, 0) == sorted(n for n in revoked if n < 30)
        assert await status.revoked_indexes(db, 1) == sorted(n for n in revoked if n >= 30)
        assert await status.revoked_indexes(db, 2) == []

        of_certificates = [f for f in finds.finds if f.get("find") == "certificates"]
        assert len(of_certificates) == 3 * 4
        for asked in of_certificates:  # a range of the index's key, and a limit: never the whole collection
            assert asked["filter"]["status"] == certs.REVOKED and set(asked["filter"]["page_key"]) & {"$gte", "$gt"}
            assert asked["limit"] == 5 and asked["sort"] == {"page_key": 1}
        for asked in (f for f in finds.finds if f.get("find") == "status_entries"):
            assert set(asked["filter"]) == {"_id"} and len(asked["filter"]["_id"]["$in"]) <= 4
    finally:
        await client.close()
