"""Events that wait for their facts (ADR 0006).

Topics are not ordered against each other: ``scoring.completed`` may be read before the ``panel.formed`` that
names its chair, a producer's result before the ``dossier.received`` that gives their address. Such an event is
*parked* here — one document keyed by the event id, so a redelivery or a replay parks it once — and only then
marked handled by the consumer, so the partition moves on. Parked events are tried again when a fact they wait
for arrives and on a backoff; one that still lacks its facts after ``wait_for`` goes to ``<topic>.dlq`` with the
reason and the same ``dlq-*`` headers the consumer writes. A parked event is worked on under a lease, so two
replicas do not both dead-letter it; trying it twice is harmless anyway (deliveries are keyed).

The store may be FerretDB, whose updates are a read and a whole-document write with no lock (ADR 0013): an
update can neither pick one winner nor be sure not to undo another's. So what must be decided once is inserted:
the lease is a chain of generations in ``parked_leases`` (binhchon_kit.claims), the end of an event's wait its
document in ``parked_outcomes`` (the first one inserted stands), and a fact that arrived a document in
``arrived_facts``. The ``parked`` document itself is what people and passes read; a write lost on it is repaired
from the outcome by the next pass, or costs at most a try made later.

Who waits for a fact is found by an entry per fact an event waits for, ``<fact>|<event id>`` in ``awaited``,
inserted before the event is parked (and for a try's new needs, or a need whose fact arrived during the try): an
arrived fact reads its own entries by their ``_id`` prefix, pokes those events and drops the entries it read,
instead of walking everything that waits (issue 14: with a backlog waiting, each fact-bearing event read all of
it). An entry whose event has finished, or no longer needs the fact, pokes nothing: the poke's filter checks both
again.

A pass walks what waits only when something may be due: this process knows the earliest moment it set or saw
(``_walk_by``: the parks, retries and pokes it made, the next try of each event its last walk saw), and walks at
least every ``rewalk`` whatever it knows, for what other replicas parked or poked and for writes lost on FerretDB.
On a busy notify a pass ran after every event handled, each walking the whole backlog (issue 14).

What may still wait is found by ``waiting_key`` (the event id, set when it is parked), a keyset walk of that
field's own index: FerretDB answers a query on ``status`` by reading every event ever parked (issue 14). The key
is dropped by the first pass that sees the event finished, not by ``done``: until then a write lost over its
outcome (``waiting`` again) is still walked and repaired, and a lost write that comes later writes the key back
with the ``waiting`` it brings (FerretDB writes a document back whole). Events parked before the key existed get
it once, at start (``setup``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from binhchon_kit import claims, key_range, paging
from binhchon_kit.consumer import Origin, consuming
from binhchon_kit.events import RecordedEvent

WAITING_KEY = "waiting_key"
SUBJECT_KEY = "subject_key"
AWAITED = "awaited"


def awaited_entry(fact: str, event_id: str) -> dict[str, Any]:
    """The entry saying that the event ``event_id`` waits for ``fact``, found by the prefix ``<fact>|``."""
    return {"_id": f"{fact}|{event_id}", "fact": fact, "event_id": event_id}


def awaited_entries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A parked event's entries, one per fact it needs."""
    return [awaited_entry(fact, doc["_id"]) for fact in sorted(_needs(doc)) if isinstance(fact, str)]


def waiting_key(doc: dict[str, Any]) -> str | None:
    """A parked event's key in the walk of what may still wait: its id while it waits."""
    return doc["_id"] if doc.get("status") == "waiting" else None


def subject_key(doc: dict[str, Any]) -> str | None:
    """A parked event's key among its subject's (its dossier's, or its round's): ``<subject>:<event id>``."""
    subject = doc.get("subject")
    return f"{subject}:{doc['_id']}" if isinstance(subject, str) and subject else None


async def setup(db: AsyncDatabase[dict[str, Any]]) -> None:
    """The walks' indexes, and the keys of the events parked before they existed (once per deploy of a key)."""
    await db["parked"].create_index([(WAITING_KEY, ASCENDING)])
    await db["parked"].create_index([(SUBJECT_KEY, ASCENDING)])
    await paging.fill_keys(db, "parked", waiting_key, key=WAITING_KEY)
    await paging.fill_keys(db, "parked", subject_key, key=SUBJECT_KEY)
    await key_range.fill_entries(db[AWAITED], db["parked"], {"status": "waiting"}, awaited_entries)


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
    rewalk: timedelta = timedelta(seconds=5)
    # no pass need walk what waits before this moment, as far as this process knows (None: walk)
    _walk_by: datetime | None = field(default=None, init=False)

    def _soon(self, at: datetime) -> None:
        """Something may be due at ``at``: the pass walks then, if not before."""
        if self._walk_by is not None and _utc(at) < self._walk_by:
            self._walk_by = _utc(at)

    async def _await(self, event_id: str, needs: Sequence[str]) -> None:
        for fact in needs:
            await key_range.add_entry(self.awaited, awaited_entry(fact, event_id))

    @property
    def awaited(self) -> Any:
        return self.db[AWAITED]

    @property
    def parked(self) -> Any:
        return self.db["parked"]

    async def park(self, event: RecordedEvent, missing: MissingFacts) -> bool:
        """Keep the event until its facts arrive. False: it was parked before (a redelivery or a replay)."""
        origin = consuming.get() or Origin("", -1, -1, event.subject.encode(), "")
        now = self.now()
        # its entries first: should the park's insert not happen, an entry finds no event and pokes nothing
        await self._await(event.id, missing.needs)
        self._soon(now + self.first_retry)
        try:
            await self.parked.insert_one({
                "_id": event.id, "status": "waiting", WAITING_KEY: event.id, "type": event.type,
                "subject": event.subject, SUBJECT_KEY: subject_key({"_id": event.id, "subject": event.subject}),
                # the message as received (signed): dead-lettered later, it is what came, unchanged
                "body": origin.body or event.to_cloudevent().to_bytes(), "topic": origin.topic,
                "partition": origin.partition, "offset": origin.offset, "key": origin.key, "handler": origin.handler,
                "needs": missing.needs,
                "reason": missing.reason, "tries": 0, "pokes": 0, "parked_at": now, "give_up_at": now + self.wait_for,
                "next_try_at": now + self.first_retry})
        except DuplicateKeyError:
            return False
        return True

    @property
    def leases(self) -> Any:
        return self.db["parked_leases"]

    @property
    def outcomes(self) -> Any:
        return self.db["parked_outcomes"]

    async def facts_arrived(self, facts: Sequence[str]) -> None:
        """Whatever waits for one of these facts is tried at once (by whichever replica comes first)."""
        if not facts:
            return
        for fact in facts:  # kept first: a try that lacked the fact and backs off meanwhile finds it here
            try:
                await self.db["arrived_facts"].insert_one({"_id": fact, "at": self.now()})
            except DuplicateKeyError:  # again (an approver configured anew, a replay): when, for the tries now
                await self.db["arrived_facts"].update_one({"_id": fact}, {"$set": {"at": self.now()}})
        read: list[str] = []
        for fact in dict.fromkeys(facts):
            for entry in await key_range.with_prefix(self.awaited, f"{fact}|"):
                if entry.get("fact") != fact:
                    continue  # another fact's, whose name goes on past a "|"
                # the store checks: the event may have finished, or its needs changed, since its entry was made
                await self.parked.update_one({"_id": entry["event_id"], "status": "waiting",
                                              "needs": {"$in": list(facts)}},
                                             {"$set": {"next_try_at": self.now()}, "$inc": {"pokes": 1}})
                read.append(entry["_id"])
        if read:  # the fact is in arrived_facts now: a try that lacks it again makes its entry again
            self._soon(self.now())
            await self.awaited.delete_many({"_id": {"$in": read}})

    async def of_subject(self, subject: str, projection: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every event of ``subject`` ever parked, whatever its status: a range of ``subject_key`` on its index,
        reading that subject's events only (another subject's whose id goes on past a ``:`` is left out here)."""
        prefix = f"{subject}:"
        shown = None if projection is None else {**projection, "subject": 1}
        found = await key_range.in_range(self.parked, prefix, key_range.after(prefix), field=SUBJECT_KEY,
                                         projection=shown)
        return [doc for doc in found if doc.get("subject") == subject]

    async def _walk(self, projection: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The events that may still wait (and those finished since the last pass), in ``waiting_key`` order."""
        return await key_range.in_range(self.parked, "", None, field=WAITING_KEY, projection=projection)

    async def take_due(self) -> list[dict[str, Any]]:
        """The parked events due for a try, each leased to this replica (a lease left by a dead one expires)."""
        now = self.now()
        if self._walk_by is not None and _utc(now) < self._walk_by:
            return []  # nothing this process knows of is due, and it walked less than ``rewalk`` ago
        walk_by = _utc(now + self.rewalk)
        due = []
        for doc in await self._walk():
            if doc.get("status") != "waiting":  # finished: out of the walk from now on
                await self.parked.update_one({"_id": doc["_id"], "status": doc.get("status")},
                                             {"$unset": {WAITING_KEY: ""}})
            elif isinstance(at := doc.get("next_try_at"), datetime) and _utc(at) <= _utc(now):
                due.append(doc)
            elif isinstance(at, datetime):
                walk_by = min(walk_by, _utc(at))
        # the due are tried now, and each try says when it may be due again (``still_waiting``, ``release``); one
        # whose lease another replica holds is due still, so the next pass walks again
        self._walk_by = walk_by
        taken = []
        for doc in sorted(due, key=lambda d: _utc(d["next_try_at"])):
            lease = await claims.take(self.leases, doc["_id"], {"owner": self.owner, "at": now,
                                                                "until": now + self.lease},
                                      free=claims.lapsed("until", now))
            if lease is None:
                self._walk_by = None
                continue
            outcome = await self.outcomes.find_one({"_id": doc["_id"]})
            if outcome is not None:  # finished meanwhile, or its "waiting" is a write lost over the outcome
                await self.parked.update_one({"_id": doc["_id"]}, {"$set": _fields_of(outcome)})
                await self._unlease(doc["_id"], lease["_id"])
                continue
            taken.append({**doc, "lease": lease["_id"], "taken_at": now})
        return taken

    async def _unlease(self, event_id: str, lease: str | None) -> None:
        """Give the lease back (only its holder writes to its generation)."""
        if lease is not None:
            await self.leases.update_one({"_id": lease, "owner": self.owner}, {"$set": {"released": True}})

    def expired(self, doc: dict[str, Any]) -> bool:
        return self.now() >= _aware(doc["give_up_at"], self.now())

    async def still_waiting(self, doc: dict[str, Any], missing: MissingFacts) -> None:
        tries = doc["tries"] + 1
        delay = min(self.first_retry * 2 ** tries, self.max_retry)
        now = self.now()
        fields = {"tries": tries, "needs": missing.needs, "reason": missing.reason}
        # the entries of new needs; those of needs it had stay until their fact arrives (an arrived fact drops
        # them, and is found below): one insert each try no more, refused as a duplicate (issue 14)
        await self._await(doc["_id"], [n for n in missing.needs if n not in _needs(doc)])
        await self.parked.update_one({"_id": doc["_id"], "status": "waiting"},
                                     {"$set": {**fields, "next_try_at": now + delay}})
        self._soon(now + delay)
        # a fact that arrived during this try (its poke may have been overwritten by ours): its entry made
        # again, and tried again at once. Only during it: one that arrived before and is lacking again (the one
        # approver configured, then given another role) would otherwise have the event tried on every pass
        if arrived := await self._arrived(missing.needs, since=doc.get("taken_at")):
            await self._await(doc["_id"], arrived)
            await self.parked.update_one({"_id": doc["_id"], "status": "waiting"}, {"$set": {"next_try_at": now}})
            self._soon(now)
        await self._unlease(doc["_id"], doc.get("lease"))

    async def _arrived(self, facts: Sequence[str], since: datetime | None) -> list[str]:
        """Those of ``facts`` that arrived (last) at ``since`` or after (None: ever): one ``_id`` lookup per fact,
        each answered by the index (an ``$in`` is not pushed down by FerretDB: it read every fact that ever
        arrived, issue 14)."""
        arrived = []
        for fact in facts:
            doc = await self.db["arrived_facts"].find_one({"_id": fact}, projection={"at": 1})
            at = None if doc is None else doc.get("at")
            if doc is not None and (since is None or not isinstance(at, datetime) or _utc(at) >= _utc(since)):
                arrived.append(fact)
        return arrived

    async def told(self, event_id: str) -> None:
        """The event was handled anyway (redelivered after its facts came): it waits no more."""
        if await self.parked.find_one({"_id": event_id, "status": "waiting"}, projection={"_id": 1}) is not None:
            await self.done({"_id": event_id}, "handled")

    async def release(self, doc: dict[str, Any]) -> None:
        """Give the event back untouched, to be tried again soon (by any replica)."""
        await self.parked.update_one({"_id": doc["_id"], "status": "waiting"},
                                     {"$set": {"next_try_at": self.now() + self.first_retry}})
        self._soon(self.now() + self.first_retry)
        await self._unlease(doc["_id"], doc.get("lease"))

    async def done(self, doc: dict[str, Any], status: str, reason: str | None = None) -> None:
        """``handled`` (its messages are queued) or ``dead_lettered``; the first outcome inserted stands, and the
        ``parked`` document shows it as the record of why."""
        outcome: dict[str, Any] = {"_id": doc["_id"], "status": status, "finished_at": self.now()}
        if reason is not None:
            outcome["reason"] = reason
        try:
            await self.outcomes.insert_one(outcome)
        except DuplicateKeyError:
            outcome = await self.outcomes.find_one({"_id": doc["_id"]}) or outcome
        await self.parked.update_one({"_id": doc["_id"]}, {"$set": _fields_of(outcome)})
        await self._unlease(doc["_id"], doc.get("lease"))


def _fields_of(outcome: dict[str, Any]) -> dict[str, Any]:
    return {k: outcome[k] for k in ("status", "finished_at", "reason") if k in outcome}


def origin_of(doc: dict[str, Any]) -> Origin:
    return Origin(doc["topic"], doc["partition"], doc["offset"], doc.get("key"), doc["handler"])


def _needs(doc: dict[str, Any]) -> set[Any]:
    needs = doc.get("needs")
    return set(needs) if isinstance(needs, list) else {needs}


def _utc(moment: datetime) -> datetime:
    """A stored instant: the store keeps UTC, and gives it back without its zone unless asked."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _aware(moment: datetime, like: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=like.tzinfo)
