"""A service's log as a Merkle tree (RFC 9162), its signed checkpoints, and the proofs auditors ask for (ADR 0022).

Append order is publication order: the relay (one at a time, under its lease) adds a leaf for each event Kafka
acknowledged, before it removes the event's ``unpublished`` mark. Leaf i is one document in ``log_leaves``,
``_id`` = i, with the event's key under a unique index: an insert at a taken index fails (a stale size: read it
again), an insert for an event that has a leaf fails (a repeat after a crash between the leaf and the mark: skip
it). So no event has two leaves, whatever crashes or races. Events that have a leaf are left out of a batch before
it is inserted, since no server's ``ordered`` is trusted (FerretDB 1.24 goes on after a duplicate): so a relay
alone leaves no hole. Racing relays may, briefly: the recorder closes the holes above the last checkpoint before
it signs (``leaf_holes``; ADR 0022, amended 2026-11-30), so a holed log is signed again, never refused for ever.

A checkpoint is a ``log.checkpoint`` event in the stream ``log-checkpoints-<service>``: size, root, time, signed.
It is an event like any other, so the relay publishes it and gives it a leaf *after* the leaves it covers; a checkpoint
covers only leaves that exist before it is recorded, never its own: no loop, and the checkpoints themselves are
in the tree the next checkpoint signs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from binhchon_kit import merkle
from binhchon_kit.contracts.log import LogCheckpoint
from binhchon_kit.envelope import format_time, utc_now
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent
from binhchon_kit.eventstore import EventStorePort, event_key
from binhchon_kit.leaf_holes import HolesRemain, close_holes, is_moving
from binhchon_kit.signing import Signer
from binhchon_kit.transparency import event_leaf, signed_body

log = logging.getLogger("binhchon.checkpoints")

LEAVES = "log_leaves"
CHECKPOINT_STREAM = "log-checkpoints"  # the stream's name, followed by the service's: one stream per service


def checkpoint_stream(origin: str) -> str:
    """The stream of one service's checkpoints. Every service publishes them to the one log.checkpoints topic, so
    each needs a stream of its own: with one name for all, four services' version 1 met on the topic and an
    auditor saw four events claim one place in one chain (found by `binhchon-audit verify` on `make demo`)."""
    return f"{CHECKPOINT_STREAM}-{origin.rsplit('/', 1)[-1]}"
PAGE = 5000


class LogDamaged(Exception):
    """The service's own leaves do not hold what its last checkpoint signed: it refuses to sign over them."""


class ProofUnavailable(LookupError):
    """The proof asked for cannot exist: an unknown event, a size the log has not reached (HTTP 404/400)."""


class Checkpoints:
    """The Merkle log of one service's store: leaves (written by the relay), checkpoints and proofs."""

    def __init__(self, store: EventStorePort, db: Any, signer: Signer, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.origin = store.source
        self.stream = checkpoint_stream(self.origin)
        self.leaves = db[LEAVES]
        self.signer = signer
        self.clock = clock

    async def setup(self) -> None:
        await self.leaves.create_index([("event", ASCENDING)], unique=True)
        await self.leaves.create_index([("event_id", ASCENDING)])

    # ---- leaves (the relay) ----------------------------------------------------------------------------

    async def size(self) -> int:
        """How many leaves the log holds (the highest index plus one)."""
        last = await self.leaves.find_one({}, projection={"_id": 1}, sort=[("_id", DESCENDING)])
        return 0 if last is None else int(last["_id"]) + 1

    async def add(self, events: Sequence[RecordedEvent]) -> None:
        """Give each of ``events`` (published, in this order) its leaf, unless it has one already.

        Never trusts ``ordered``: FerretDB 1.24 goes on after a duplicate with its next internal batch of 100, so
        a batch mixing events that have leaves (a pass killed before the marks) with new ones left a hole behind
        the leaves it let through (scoring's 559..636, `make faults`). So the events that have a leaf are left
        out first, and the usual pass inserts only new events at the size read just before; a failure then
        means another process added leaves meanwhile, and each event goes in one by one."""
        if not events:
            return
        keys = [event_key(e.stream, e.version) for e in events]
        found = await self.leaves.find({"event": {"$in": keys}}, projection={"event": 1}).to_list()
        have = {d["event"] for d in found}
        docs = [_leaf(0, e) for e, key in zip(events, keys, strict=True) if key not in have]
        if not docs:
            return
        # read every time, never kept: a closer (leaf_holes) may have moved the top leaves down since
        size = await self.size()
        for i, doc in enumerate(docs):
            doc["_id"] = size + i
        try:
            await self.leaves.insert_many(docs, ordered=True)
            return
        except (BulkWriteError, DuplicateKeyError):
            pass  # another process added leaves meanwhile; any subset of these may have gone in, not only a prefix
        for doc in docs:
            await self._add_one(doc)

    async def _add_one(self, doc: dict[str, Any]) -> None:
        """``doc`` at its own index while that is below the size (a hole the failed batch left), else at the end."""
        own = True
        while True:
            if await self.leaves.find_one({"event": doc["event"]}, projection={"_id": 1}) is not None:
                return  # it has its leaf (it went in with the batch, or another process added it)
            size = await self.size()
            index = doc["_id"] if own and doc["_id"] < size else size
            try:
                await self.leaves.insert_one({**doc, "_id": index})
                return
            except DuplicateKeyError:
                own = False  # taken meanwhile, by this event (checked above) or another: at the end, read again

    async def leaf_hashes(self, size: int) -> list[bytes]:
        """The first ``size`` leaves' hashes, in pages by index; a missing leaf is damage, not a smaller tree."""
        hashes: list[bytes] = []
        while len(hashes) < size:
            docs = await self.leaves.find({"_id": {"$gte": len(hashes), "$lt": size}}, sort=[("_id", ASCENDING)],
                                          limit=PAGE).to_list()
            if not docs:
                raise LogDamaged(f"the log of {self.origin} has no leaf {len(hashes)}")
            for doc in docs:
                if doc["_id"] != len(hashes) or is_moving(doc):  # a leaf on its way down is no leaf yet
                    raise LogDamaged(f"the log of {self.origin} has no leaf {len(hashes)}")
                hashes.append(event_leaf(doc["hash"]))
        return hashes

    # ---- checkpoints -----------------------------------------------------------------------------------

    async def checkpoints(self) -> list[LogCheckpoint]:
        return [LogCheckpoint.model_validate(e.data) for e in await self.store.read_stream(self.stream)]

    async def latest(self) -> tuple[int, LogCheckpoint | None]:
        version = await self.store.version(self.stream)
        event = await self.store.get(self.stream, version) if version else None
        return version, None if event is None else LogCheckpoint.model_validate(event.data)

    async def grown_since(self, checkpoint: LogCheckpoint | None) -> bool:
        """Whether the log holds events the checkpoint does not cover, other than checkpoints: a quiet log is not
        checkpointed again and again because each checkpoint adds its own leaf."""
        since = 0 if checkpoint is None else checkpoint.tree_size
        async for doc in self.leaves.find({"_id": {"$gte": since}}, projection={"event": 1}, sort=[("_id", 1)]):
            if not str(doc["event"]).startswith(f"{self.stream}/"):
                return True
        return False

    async def record(self, *, only_if_grown: bool = False) -> RecordedEvent | None:
        """Sign the log as it is now and record the checkpoint; ``only_if_grown``: unless nothing new came.

        Refuses (LogDamaged) when the leaves no longer lead to the last checkpoint's root: a service never signs
        a log that contradicts its own signature. Two recorders at once: one of them meets ConcurrencyConflict."""
        version, last = await self.latest()
        if only_if_grown and not await self.grown_since(last):
            return None
        await self.close_holes(last)
        size = await self.size()
        leaves = await self.leaf_hashes(size)
        if last is not None:
            if size < last.tree_size:
                raise LogDamaged(f"the log of {self.origin} has {size} leaves, fewer than the {last.tree_size} "
                                 "its last checkpoint signed: it was cut short")
            if merkle.root(leaves[:last.tree_size]).hex() != last.root_hash:
                raise LogDamaged(f"the first {last.tree_size} leaves of the log of {self.origin} are not those its "
                                 "last checkpoint signed: they were altered")
        body = {"origin": self.origin, "tree_size": size, "root_hash": merkle.root(leaves).hex(),
                "time": format_time(self.clock())}
        data = LogCheckpoint(**body, key_id=self.signer.kid, signature=self.signer.sign(signed_body(body)))
        event = NewEvent(data)
        recorded = await self.store.append(
            self.stream, version, event, subject=self.origin,
            actor=Actor.system(self.origin.rsplit("/", 1)[-1]), cause=Cause(event.id, event.id))
        log.info("checkpoint %d of %s: %d events, root %s", recorded.version, self.origin, size, body["root_hash"])
        return recorded

    async def close_holes(self, last: LogCheckpoint | None) -> None:
        """Close the holes among the leaves ``last`` did not sign (leaf_holes): a log holed by a race, or by the
        relay before 2026-11-30, is signed again instead of refused on every pass for ever."""
        try:
            moved = await close_holes(self.leaves, 0 if last is None else last.tree_size)
        except HolesRemain as exc:
            raise LogDamaged(f"the log of {self.origin}: {exc}") from exc
        if moved:
            log.warning("the log of %s had holes after leaf %d: %d leaves moved down, in their order",
                        self.origin, 0 if last is None else last.tree_size, moved)

    async def record_if_grown(self) -> RecordedEvent | None:
        """The periodic checkpoint: one when events came since the last one."""
        return await self.record(only_if_grown=True)

    # ---- proofs ----------------------------------------------------------------------------------------

    async def _tree(self, size: int) -> list[bytes]:
        have = await self.size()
        if not 0 <= size <= have:
            raise ProofUnavailable(f"the log of {self.origin} has {have} events, not {size}")
        return await self.leaf_hashes(size)

    async def inclusion(self, event_id: str, tree_size: int) -> dict[str, Any]:
        """The audit path of the event's leaf in the tree of ``tree_size``, and the event's hash as the store holds
        it now (None when the store no longer has the event)."""
        leaf = await self.leaves.find_one({"event_id": event_id})
        if leaf is None:
            raise ProofUnavailable(f"event {event_id} is not in the log of {self.origin} (not published yet?)")
        if leaf["_id"] >= tree_size:
            raise ProofUnavailable(f"event {event_id} is leaf {leaf['_id']}, after the tree of {tree_size}")
        tree = await self._tree(tree_size)
        stream, _, version = str(leaf["event"]).rpartition("/")
        stored = await self.store.get(stream, int(version))
        return {
            "origin": self.origin, "event_id": event_id, "event_key": leaf["event"], "leaf_index": leaf["_id"],
            "tree_size": tree_size, "event_hash": None if stored is None else stored.hash,
            "audit_path": [h.hex() for h in merkle.inclusion_proof(leaf["_id"], tree)],
        }

    async def consistency(self, first: int, second: int) -> dict[str, Any]:
        if first > second:
            raise ProofUnavailable(f"a tree of {first} events is no prefix of one of {second}")
        tree = await self._tree(second)
        return {"origin": self.origin, "first": first, "second": second,
                "proof": [h.hex() for h in merkle.consistency_proof(first, tree)]}


def _leaf(index: int, event: RecordedEvent) -> dict[str, Any]:
    return {"_id": index, "event": event_key(event.stream, event.version), "event_id": event.id,
            "hash": event.hash}
