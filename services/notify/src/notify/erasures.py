"""Erasures re-applied to notify's database restored from a backup (ADR 0048).

Notify keeps, for mails it made, the producer's address opened; an erasure replaces it by ``[đã xoá]``
(``forget_erased``). A backup made before an erasure brings the addresses back, and the broker's committed offsets
(not in the backup) never deliver that erasure again. ``python -m notify.erasures reapply`` reads every
``personal_data.erased`` on ``intake.events`` (as the read-only auditor; only events intake signed) and applies
each to notify's database again. Idempotent; run it after a restore, before notify serves again. Notify's own
settings (MONGODB_*, KAFKA_*, EVENT_PRODUCER_KEYS_DIR).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient

from binhchon_kit.personal_erasures import reapply_command, recorded_erasures
from binhchon_kit.vietnam_time import now_utc
from notify.service import forget_erased


@dataclass(frozen=True)
class Reapplied:
    erasures: int  # personal_data.erased events on the topic that verified
    contacts_erased: int  # contacts the restored database still held an address in
    deliveries_erased: int  # mails whose address, or words printing a household's name (ADR 0048), it still held
    refused: list[str]  # ids of erasure events that did not verify, never acted on


async def reapply_from_settings(settings: Any) -> Reapplied:
    erasures, refused = await recorded_erasures(settings)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.store_url(), tz_aware=True)
    contacts = deliveries = 0
    try:
        db = mongo[settings.database_name]
        for erasure in erasures:
            changed = await forget_erased(db, erasure.kids, erasure.dossier_ids, now_utc())
            contacts, deliveries = contacts + changed[0], deliveries + changed[1]
    finally:
        await mongo.close()
    return Reapplied(len(erasures), contacts, deliveries, refused)


def main(argv: list[str] | None = None) -> int:
    """``python -m notify.erasures reapply``: one JSON line; exit 1 if an erasure event did not verify."""
    from notify.main import NotifySettings

    return reapply_command("python -m notify.erasures", __doc__, lambda: reapply_from_settings(NotifySettings()), argv)


if __name__ == "__main__":
    sys.exit(main())
