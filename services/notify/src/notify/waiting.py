"""Events that wait for their facts (ADR 0006).

Topics are not ordered against each other: ``scoring.completed`` may be read before the ``panel.formed`` that
names its chair, a producer's result before the ``dossier.received`` that gives their address. Such an event is
*parked* here — one document keyed by the event id, so a redelivery or a replay parks it once — and only then
marked handled by the consumer, so the partition moves on. Parked events are tried again when a fact they wait
for arrives and on a backoff; one that still lacks its facts after ``wait_for`` goes to ``<topic>.dlq`` with the
reason and the same ``dlq-*`` headers the consumer writes. A parked event is worked on under a lease, so two
replicas do not both dead-letter it; trying it twice is harmless anyway (deliveries are keyed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from binhchon_kit.consumer import Origin, consuming
from binhchon_kit.events import RecordedEvent


class MissingFacts(Exception):
    """What an event needs before anyone can be told: fact keys such as ``panel:<round>``, and why, in words."""

    def __init__(self, needs: Sequence[str], reasons: Sequence[str]) -> None:
        super().__init__("; ".join(reasons))
        self.needs = list(needs)
        self.reason = "; ".join(reasons)


@dataclass
class WaitingRoom:
    db: AsyncDatabase[dict[str, Any]]
    now: Callable[[], datetime]
    owner: str
    wait_for: timedelta = timedelta(hours=24)
    lease: timedelta = timedelta(minutes=2)
    first_retry: timedelta = timedelta(seconds=5)
    max_retry: timedelta = timedelta(minutes=5)

    @property
    def parked(self) -> Any:
        return self.db["parked"]

    async def park(self, event: RecordedEvent, missing: MissingFacts) -> bool:
        """Keep the event until its facts arrive. False: it was parked before (a redelivery or a replay)."""
        origin = consuming.get() or Origin("", -1, -1, event.subject.encode(), "")
        now = self.now()
        try:
            await self.parked.insert_one({
                "_id": event.id, "status": "waiting", "type": event.type, "subject": event.subject,
                "body": event.to_cloudevent().to_bytes(), "topic": origin.topic, "partition": origin.partition,
                "offset": origin.offset, "key": origin.key, "handler": origin.handler, "needs": missing.needs,
                "reason": missing.reason, "tries": 0, "pokes": 0, "parked_at": now, "give_up_at": now + self.wait_for,
                "next_try_at": now + self.first_retry, "lease_until": now})
        except DuplicateKeyError:
            return False
        return True

    async def facts_arrived(self, facts: Sequence[str]) -> None:
        """Whatever waits for one of these facts is tried at once (by whichever replica comes first)."""
        if facts:
            await self.parked.update_many({"status": "waiting", "needs": {"$in": list(facts)}},
                                          {"$set": {"next_try_at": self.now()}, "$inc": {"pokes": 1}})

    async def take_due(self) -> list[dict[str, Any]]:
        """The parked events due for a try, each leased to this replica (a lease left by a dead one expires)."""
        now = self.now()
        due = await self.parked.find({"status": "waiting", "next_try_at": {"$lte": now}}).to_list()
        taken = []
        for doc in sorted(due, key=lambda d: d["next_try_at"]):
            won = await self.parked.update_one(
                {"_id": doc["_id"], "status": "waiting", "lease_until": {"$lte": now}},
                {"$set": {"lease_until": now + self.lease, "owner": self.owner}})
            if won.modified_count == 1:
                taken.append(doc)
        return taken

    def expired(self, doc: dict[str, Any]) -> bool:
        return self.now() >= _aware(doc["give_up_at"], self.now())

    async def still_waiting(self, doc: dict[str, Any], missing: MissingFacts) -> None:
        tries = doc["tries"] + 1
        delay = min(self.first_retry * 2 ** tries, self.max_retry)
        now = self.now()
        fields = {"tries": tries, "needs": missing.needs, "reason": missing.reason, "lease_until": now}
        backoff = await self.parked.update_one({"_id": doc["_id"], "owner": self.owner, "pokes": doc.get("pokes", 0)},
                                               {"$set": {**fields, "next_try_at": now + delay}})
        if backoff.matched_count == 0:  # a fact arrived during this try: no backoff, try again at once
            await self.parked.update_one({"_id": doc["_id"], "owner": self.owner},
                                         {"$set": {**fields, "next_try_at": now}})

    async def told(self, event_id: str) -> None:
        """The event was handled anyway (redelivered after its facts came): it waits no more."""
        await self.parked.update_one({"_id": event_id, "status": "waiting"},
                                     {"$set": {"status": "handled", "finished_at": self.now()}})

    async def release(self, doc: dict[str, Any]) -> None:
        """Give the event back untouched, to be tried again soon (by any replica)."""
        now = self.now()
        await self.parked.update_one({"_id": doc["_id"], "owner": self.owner},
                                     {"$set": {"next_try_at": now + self.first_retry, "lease_until": now}})

    async def done(self, doc: dict[str, Any], status: str, reason: str | None = None) -> None:
        """``handled`` (its messages are queued) or ``dead_lettered``; the document stays as the record of why."""
        fields: dict[str, Any] = {"status": status, "finished_at": self.now()}
        if reason is not None:
            fields["reason"] = reason
        await self.parked.update_one({"_id": doc["_id"]}, {"$set": fields})


def origin_of(doc: dict[str, Any]) -> Origin:
    return Origin(doc["topic"], doc["partition"], doc["offset"], doc.get("key"), doc["handler"])


def _aware(moment: datetime, like: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=like.tzinfo)
