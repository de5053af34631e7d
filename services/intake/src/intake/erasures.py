"""Erasures re-applied to a restored key store (ADR 0048).

A backup of intake's database made before an erasure holds the erased producer's wrapped key: restored, it would
open the producer's sealed fields again. The erasures themselves are on ``intake.events``, kept forever and outside
the backup: ``python -m intake.erasures reapply`` reads that topic from its start (as the read-only auditor) and
replaces every key a ``personal_data.erased`` event names by its tombstone. Run it after a restore, before intake
serves again; running it twice changes nothing. Only events intake signed are acted on (ADR 0026): a forged
erasure would destroy a producer's data, so it is reported and skipped.

It uses intake's own settings (MONGODB_*, KAFKA_*, EVENT_PRODUCER_KEYS_DIR); no master key is needed: deleting a
key opens nothing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from binhchon_kit.personal_erasures import Erasure, reapply_command, recorded_erasures
from binhchon_kit.personal_keys import COLLECTION, tombstone


@dataclass(frozen=True)
class Reapplied:
    erasures: int  # personal_data.erased events on the topic that verified
    keys_named: int  # the keys they name
    keys_deleted: int  # of those, keys the restored store still held: now tombstones
    refused: list[str]  # ids of erasure events that did not verify, never acted on


async def reapply(keys: AsyncCollection[dict[str, Any]], erasures: list[Erasure], refused: list[str]) -> Reapplied:
    """Every erasure's keys replaced by tombstones in ``keys`` (a restored ``personal_keys``)."""
    named = deleted = 0
    for erasure in erasures:
        named += len(erasure.kids)
        deleted += len(await tombstone(keys, erasure.kids))
    return Reapplied(erasures=len(erasures), keys_named=named, keys_deleted=deleted, refused=refused)


async def reapply_from_settings(settings: Any) -> Reapplied:
    """As ``main`` runs it: intake's topic read as the auditor, intake's key store signed in as intake."""
    erasures, refused = await recorded_erasures(settings)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.store_url(), tz_aware=True)
    try:
        return await reapply(mongo[settings.database_name][COLLECTION], erasures, refused)
    finally:
        await mongo.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m intake.erasures reapply``: one JSON line; exit 1 if an erasure event did not verify."""
    from intake.main import IntakeSettings

    return reapply_command("python -m intake.erasures", __doc__, lambda: reapply_from_settings(IntakeSettings()), argv)


if __name__ == "__main__":
    sys.exit(main())
