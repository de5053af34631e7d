"""A service's log as a Merkle tree (RFC 9162), its signed checkpoints, and the proofs auditors ask for (ADR 0022).

Append order is publication order: the relay (one at a time, under its lease) adds a leaf for each event Kafka
acknowledged, before it removes the event's ``unpublished`` mark. Leaf i is one document in ``merkle_leaves``,
``_id`` = i in 16 zero-padded digits (``leaf_ids``: every lookup index-served), with the event's key under a unique
index: an insert at a taken index fails (a stale size: read it again), an insert for an event that has a leaf
fails (a repeat after a crash between the leaf and the mark: skip it). So no event has two leaves, whatever
crashes or races. Events that have a leaf are left out of a batch before it is inserted, since no server's
``ordered`` is trusted (FerretDB 1.24 goes on after a duplicate): so a relay alone leaves no hole. Racing relays
may, briefly: the recorder closes the holes above the last checkpoint before it signs (``leaf_holes``; ADR 0022,
amended 2026-11-30), so a holed log is signed again, never refused for ever.

A checkpoint re-reads no signed leaf: beside it, in ``merkle_frontiers`` under its tree size, is the tree's compact
range (the roots of the perfect subtrees covering it, ``merkle.frontier``); the next root is that frontier grown
by the leaves added since, once the frontier's root is checked to be the one signed. Every signed leaf is still
re-read and checked against the last signed root the first time a process records, when the frontier is missing,
and for a checkpoint an auditor asks for (``full_check``). So a relay pass and a periodic checkpoint cost what
they add, not the log's size (ADR 0022, amended 2026-11-30). A log of the old format (``log_leaves``, integer
``_id``) is copied into this one once, at ``setup`` (``leaf_upgrade``).

A proof reads no more than it needs either: each perfect subtree of at least ``TILE`` leaves that a checkpoint's
growth completes has its root kept in ``merkle_nodes`` (as the frontier, before the checkpoint), so an inclusion or
consistency proof reads O(log n) roots and at most a few tiles of leaves at its edges, whatever the log's size. A
root that is missing (a log older than them, a crash before they were kept) is made from its halves, down to the
leaves (ADR 0022, amended 2026-12-01).

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

from pymongo import ASCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from binhchon_kit import merkle
from binhchon_kit.contracts.log import LogCheckpoint
from binhchon_kit.envelope import format_time, utc_now
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent
from binhchon_kit.eventstore import EventStorePort, event_key
from binhchon_kit.leaf_holes import HolesRemain, close_holes, is_moving
from binhchon_kit.leaf_ids import by_event_id, holder, holding, leaf_id, leaf_index, page
from binhchon_kit.leaf_upgrade import OLD_LEAVES, upgrade
from binhchon_kit.signing import Signer
from binhchon_kit.transparency import event_leaf, signed_body

log = logging.getLogger("binhchon.checkpoints")

LEAVES = "merkle_leaves"
FRONTIERS = "merkle_frontiers"
NODES = "merkle_nodes"
TILE = 256  # the smallest subtree whose root is kept: a proof reads at most a few tiles' leaves
CHECKPOINT_STREAM = "log-checkpoints"  # the stream's name, followed by the service's: one stream per service


def checkpoint_stream(origin: str) -> str:
    """The stream of one service's checkpoints. Every service publishes them to the one log.checkpoints topic, so
    each needs a stream of its own: with one name for all, four services' version 1 met on the topic and an
    auditor saw four events claim one place in one chain (found by `binhchon-audit verify` on `make demo`)."""
    return f"{CHECKPOINT_STREAM}-{origin.rsplit('/', 1)[-1]}"
PAGE = 5000
NODES_PAGE = 1000  # kept roots looked up or inserted per statement
DUPLICATE = 11000
NEWS_PAGE = 50  # leaves looked at per page for one that is not a checkpoint


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
        self.db = db
        self.leaves = db[LEAVES]
        self.frontiers = db[FRONTIERS]
        self.nodes = db[NODES]
        self.signer = signer
        self.clock = clock
        self.checked = False  # whether this process re-read every signed leaf against the last signed root

    async def setup(self) -> None:
        await self.leaves.create_index([("event", ASCENDING)], unique=True)
        await self.leaves.create_index([("event_id", ASCENDING)])
        copied = await upgrade(self.db, self.leaves)
        if copied:
            log.warning("the log of %s upgraded: %d leaves copied from %s into %s", self.origin, copied, OLD_LEAVES,
                        LEAVES)

    # ---- leaves (the relay) ----------------------------------------------------------------------------

    async def size(self) -> int:
        """How many leaves the log holds (the highest index plus one)."""
        last = await page(self.leaves, 0, None, 1, descending=True, projection={"_id": 1})
        return leaf_index(last[0]["_id"]) + 1 if last else 0

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
        have = await holding(self.leaves, keys)  # one range of the event index per stream (leaf_ids)
        events = [e for e, key in zip(events, keys, strict=True) if key not in have]
        if not events:
            return
        # read every time, never kept: a closer (leaf_holes) may have moved the top leaves down since
        size = await self.size()
        docs = [_leaf(size + i, e) for i, e in enumerate(events)]
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
            if await holder(self.leaves, doc["event"]) is not None:
                return  # it has its leaf (it went in with the batch, or another process added it)
            size = await self.size()
            index = leaf_index(doc["_id"]) if own and leaf_index(doc["_id"]) < size else size
            try:
                await self.leaves.insert_one({**doc, "_id": leaf_id(index)})
                return
            except DuplicateKeyError:
                own = False  # taken meanwhile, by this event (checked above) or another: at the end, read again

    async def leaf_hashes(self, size: int, start: int = 0) -> list[bytes]:
        """The hashes of leaves ``start`` to ``size`` - 1, in pages by index; a missing leaf is damage, not a
        smaller tree."""
        hashes: list[bytes] = []
        while start + len(hashes) < size:
            docs = await page(self.leaves, start + len(hashes), size, PAGE)
            if not docs:
                raise LogDamaged(f"the log of {self.origin} has no leaf {start + len(hashes)}")
            for doc in docs:
                # a leaf on its way down is no leaf yet
                if leaf_index(doc["_id"]) != start + len(hashes) or is_moving(doc):
                    raise LogDamaged(f"the log of {self.origin} has no leaf {start + len(hashes)}")
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
        while True:
            docs = await page(self.leaves, since, None, NEWS_PAGE, projection={"event": 1})
            if any(not str(d["event"]).startswith(f"{self.stream}/") for d in docs):
                return True
            if len(docs) < NEWS_PAGE:
                return False
            since = leaf_index(docs[-1]["_id"]) + 1

    async def record(self, *, only_if_grown: bool = False, full_check: bool = False) -> RecordedEvent | None:
        """Sign the log as it is now and record the checkpoint; ``only_if_grown``: unless nothing new came.

        Refuses (LogDamaged) when the leaves no longer lead to the last checkpoint's root: a service never signs
        a log that contradicts its own signature. The leaves that root signed are re-read for that on the first
        checkpoint of the process, when its frontier is missing, and with ``full_check`` (an auditor's); else the
        stored frontier, checked against the signed root, stands for them. Two recorders at once: one of them meets
        ConcurrencyConflict."""
        version, last = await self.latest()
        if only_if_grown and not await self.grown_since(last):
            return None
        await self.close_holes(last)
        size = await self.size()
        signed = 0 if last is None else last.tree_size
        base = None if full_check or not self.checked else await self._frontier(last)
        nodes: list[tuple[int, int, bytes]] = []  # the subtree roots this growth completes, kept for proofs
        if base is None:
            leaves = await self.leaf_hashes(size)
            if last is not None:
                self._check_size(size, last)
                if merkle.root(leaves[:signed]).hex() != last.root_hash:
                    raise LogDamaged(f"the first {signed} leaves of the log of {self.origin} are not those its "
                                     "last checkpoint signed: they were altered")
            tree = merkle.frontier(leaves, completed=nodes, min_size=TILE)  # every one: those missing are kept
            self.checked = True
        else:
            if last is not None:
                self._check_size(size, last)
            tree = merkle.frontier(await self.leaf_hashes(size, signed), base, signed, completed=nodes,
                                   min_size=TILE)
        body = {"origin": self.origin, "tree_size": size, "root_hash": merkle.frontier_root(size, tree).hex(),
                "time": format_time(self.clock())}
        # before the checkpoint: a crash between leaves spare ones, no lack
        await self._keep_nodes(nodes)
        await self._keep_frontier(size, tree)
        data = LogCheckpoint(**body, key_id=self.signer.kid, signature=self.signer.sign(signed_body(body)))
        event = NewEvent(data)
        recorded = await self.store.append(
            self.stream, version, event, subject=self.origin,
            actor=Actor.system(self.origin.rsplit("/", 1)[-1]), cause=Cause(event.id, event.id))
        log.info("checkpoint %d of %s: %d events, root %s", recorded.version, self.origin, size, body["root_hash"])
        return recorded

    def _check_size(self, size: int, last: LogCheckpoint) -> None:
        if size < last.tree_size:
            raise LogDamaged(f"the log of {self.origin} has {size} leaves, fewer than the {last.tree_size} "
                             "its last checkpoint signed: it was cut short")

    async def _frontier(self, last: LogCheckpoint | None) -> list[bytes] | None:
        """The frontier of the tree ``last`` signed, checked against its root; None when none was kept."""
        if last is None:
            return []
        doc = await self.frontiers.find_one({"_id": leaf_id(last.tree_size)})
        if doc is None:
            return None
        try:
            tree = [bytes.fromhex(h) for h in doc["frontier"]]
            good = merkle.frontier_root(last.tree_size, tree).hex() == last.root_hash
        except (KeyError, TypeError, ValueError):
            good = False
        if not good:
            raise LogDamaged(f"the frontier kept for the checkpoint of {last.tree_size} events of the log of "
                             f"{self.origin} does not lead to the root it signed: it was altered")
        return tree

    async def _keep_frontier(self, size: int, tree: list[bytes]) -> None:
        """The frontier of the tree of ``size`` leaves, under its size (the same for whoever computes it: the
        first ``size`` leaves, without a hole, no longer move)."""
        doc = {"_id": leaf_id(size), "tree_size": size, "frontier": [h.hex() for h in tree]}
        try:
            await self.frontiers.insert_one(doc)
        except DuplicateKeyError:
            await self.frontiers.replace_one({"_id": doc["_id"]}, doc)

    async def _keep_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        """Keep the roots of ``nodes`` (first leaf, size, root) not kept yet: the first ``size`` leaves of a
        checkpoint no longer move, so a subtree's root is the same for whoever computes it (a racing recorder's
        duplicate is the same document)."""
        for at in range(0, len(nodes), NODES_PAGE):
            batch = {_node_id(lo, n): digest for lo, n, digest in nodes[at:at + NODES_PAGE]}
            have = {d["_id"] async for d in self.nodes.find({"_id": {"$in": list(batch)}}, projection={"_id": 1})}
            docs = [{"_id": key, "hash": digest.hex()} for key, digest in batch.items() if key not in have]
            if not docs:
                continue
            try:
                await self.nodes.insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                if any(e.get("code") != DUPLICATE for e in exc.details.get("writeErrors", [])):
                    raise

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

    async def _reached(self, size: int) -> None:
        have = await self.size()
        if not 0 <= size <= have:
            raise ProofUnavailable(f"the log of {self.origin} has {have} events, not {size}")

    async def _proof(self, ranges: Sequence[tuple[int, int]]) -> list[str]:
        """The MTHs of ``ranges`` of the tree: the kept roots of the perfect subtrees that cover them (one read
        per level of missing ones), the leaves of those smaller than a tile (one page read per run of them)."""
        pieces = {p for r in ranges for p in merkle.range_pieces(*r)}
        roots: dict[tuple[int, int], bytes] = {}
        small = {p for p in pieces if p[1] < TILE}
        wanted = pieces - small
        while wanted:
            found = await self._kept(wanted)
            roots.update(found)
            halves = {(lo + at, n // 2) for lo, n in wanted - found.keys() for at in (0, n // 2)}
            small |= {p for p in halves if p[1] < TILE}
            wanted = halves - small
        leaves: dict[int, bytes] = {}
        for lo, hi in _runs(small):
            leaves.update(enumerate(await self.leaf_hashes(hi, lo), lo))

        def subtree(lo: int, n: int) -> bytes:
            if (lo, n) in roots:
                return roots[(lo, n)]
            if n >= TILE:  # not kept: from its halves
                return merkle.node_hash(subtree(lo, n // 2), subtree(lo + n // 2, n // 2))
            return merkle.root([leaves[i] for i in range(lo, lo + n)])

        return [h.hex() for h in merkle.proof(ranges, subtree)]

    async def _kept(self, pieces: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The kept roots of ``pieces``, by piece; one that does not read as a hash is not kept."""
        ids = {_node_id(lo, n): (lo, n) for lo, n in pieces}
        found: dict[tuple[int, int], bytes] = {}
        keys = list(ids)
        for at in range(0, len(keys), NODES_PAGE):
            async for doc in self.nodes.find({"_id": {"$in": keys[at:at + NODES_PAGE]}}):
                try:
                    digest = bytes.fromhex(doc["hash"])
                except (KeyError, TypeError, ValueError):
                    continue
                if len(digest) == 32:
                    found[ids[doc["_id"]]] = digest
        return found

    async def inclusion(self, event_id: str, tree_size: int) -> dict[str, Any]:
        """The audit path of the event's leaf in the tree of ``tree_size``, and the event's hash as the store holds
        it now (None when the store no longer has the event)."""
        leaf = await by_event_id(self.leaves, event_id)
        if leaf is None:
            raise ProofUnavailable(f"event {event_id} is not in the log of {self.origin} (not published yet?)")
        index = leaf_index(leaf["_id"])
        if index >= tree_size:
            raise ProofUnavailable(f"event {event_id} is leaf {index}, after the tree of {tree_size}")
        await self._reached(tree_size)
        path = await self._proof(merkle.inclusion_ranges(index, tree_size))
        stream, _, version = str(leaf["event"]).rpartition("/")
        stored = await self.store.get(stream, int(version))
        return {
            "origin": self.origin, "event_id": event_id, "event_key": leaf["event"], "leaf_index": index,
            "tree_size": tree_size, "event_hash": None if stored is None else stored.hash, "audit_path": path,
        }

    async def consistency(self, first: int, second: int) -> dict[str, Any]:
        if first > second:
            raise ProofUnavailable(f"a tree of {first} events is no prefix of one of {second}")
        await self._reached(second)
        return {"origin": self.origin, "first": first, "second": second,
                "proof": await self._proof(merkle.consistency_ranges(first, second))}


def _node_id(lo: int, size: int) -> str:
    """The ``_id`` of the kept root of the perfect subtree of ``size`` leaves from leaf ``lo``: its height, then its
    first leaf's id (a string ``_id``, served by the index, ``leaf_ids``)."""
    return f"{size.bit_length() - 1:02d}:{leaf_id(lo)}"


def _runs(pieces: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ranges [lo, hi) of leaves ``pieces`` cover, adjacent or overlapping ones merged."""
    runs: list[list[int]] = []
    for lo, n in sorted(pieces):
        if runs and lo <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], lo + n)
        else:
            runs.append([lo, lo + n])
    return [(lo, hi) for lo, hi in runs]


def _leaf(index: int, event: RecordedEvent) -> dict[str, Any]:
    return {"_id": leaf_id(index), "event": event_key(event.stream, event.version), "event_id": event.id,
            "hash": event.hash}
