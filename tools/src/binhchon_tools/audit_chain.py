"""The log's own integrity, from the topics alone: every record a CloudEvent of a known type on its topic,
every stream's versions 1..n with each event linked to the one before, every hash as the kit computes it.

Reading and hashing are the costly part, so each record is read once, in a worker process (``read_batch``: the
compiled reader of ADR 0059, or ``read_values`` without it), which sends back only what the main process keeps:
per stream what the links need, and checkpoints parsed; the main process reads Kafka and parses only the few
events the cross-service checks look up. The relay may publish an event twice (a crash between publishing and
marking): an identical copy is a duplicate delivery, counted and accepted; two different events claiming one
stream version are a discrepancy.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Set
from concurrent.futures import Executor, ProcessPoolExecutor
from types import ModuleType
from typing import Any, NamedTuple

from binhchon_kit.contracts.registry import UnknownEventType, event_model, event_types
from binhchon_kit.topic_history import Record
from binhchon_kit.trust import SIGNATURE, SIGNATURE_KID
from binhchon_tools.audit_checkpoints import LogOrder, Published
from binhchon_tools.audit_findings import Discrepancy, Findings
from binhchon_tools.audit_hash import GENESIS, event_hash, previous_link, read_event
from binhchon_tools.audit_signatures import Signed
from binhchon_tools.audit_topics import unprefixed

CHECKPOINT_TYPE = "log.checkpoint"

audit_core: ModuleType | None
try:  # the compiled reader (ADR 0059); without it every record is read by the kit's Python, as before
    import binhchon_audit_core as audit_core
except ImportError:  # pragma: no cover - an install built without the Rust toolchain
    audit_core = None


def hash_values(values: list[bytes]) -> list[str | None]:
    """The kit's hash of each raw CloudEvent (None: not one); runs in a worker process."""
    out: list[str | None] = []
    for value in values:
        try:
            event, exact = read_event(value)
            out.append(event_hash(event, exact))
        except Exception:
            out.append(None)
    return out


def start_method() -> str:
    """How the worker processes start: forked on Linux, so each begins with what the main process has already
    imported and loaded (the kit, scoring's domain, the rulebooks: ``audit_verify`` loads them before the first
    task forks the workers); spawned elsewhere. A spawned worker imported every module again and read the
    rulebooks' YAML again: about 1.5 CPU-seconds each, a sixth of a 100,000-event verify (ADR 0042, 2026-11-30).
    The pool's processes are all forked at its first task, before it starts its own thread."""
    return "fork" if sys.platform.startswith("linux") else "spawn"


# What a worker answers for one record: None (not a binhchon CloudEvent), or what the main process keeps of it:
# (stream, version, event id, claimed hash, previous link, type, source, signature, signature kid, whether the
# hash it computed is the claimed one, the parsed event when the main process needs it whole: a checkpoint, or in
# one process a kept event of a type the cross-service checks look up), and whether ``read_json`` read it exact
# (with orjson: then ``orjson.loads`` of the same bytes is the same value, and whoever reads it again skips
# ``read_json``'s long-number search, ADR 0042, 2026-11-30). A worker sends no other parsed event back: pickling
# a parsed event and unpickling it costs ten times reading its JSON again (measured, ADR 0042).
Read = tuple[str, int, str, str, str, str, str, Any, Any, bool, "dict[str, Any] | None", bool]


def read_values(values: list[bytes], whole: frozenset[str] = frozenset()) -> list[Read | None]:
    """Each raw CloudEvent read once and hashed by the kit's Python (in a worker process): what ``ChainCheck``
    keeps of it. ``whole``: the types whose parsed event is answered too (besides checkpoints): only when read in
    the main process. With the compiled reader (ADR 0059) the chain check reads with ``read_batch`` instead; this
    is its path without one, and the oracle the compiled one is held to."""
    return [read_value(value, whole) for value in values]


def read_batch(values: list[bytes]) -> tuple[bytes, list[Read | None]]:
    """A batch read for the compiled bookkeeping (``ChainCheck`` with ``audit_core``), in a worker process or
    not: the compiled reader's answers packed in one ``bytes``, and ``read_value``'s for the records it left, in
    their order (a checkpoint, parsed, among them)."""
    assert audit_core is not None
    packed, left = audit_core.read_packed(values, [])
    return packed, [read_value(values[index], frozenset()) for index in left]


def read_value(value: bytes, whole: frozenset[str] = frozenset()) -> Read | None:
    """One raw CloudEvent read and hashed by the kit (None: not a binhchon CloudEvent)."""
    try:
        event, exact = read_event(value)
        stream, version = str(event["streamid"]), int(event["streamversion"])
        event_id, claimed, prev = str(event["id"]), str(event["hash"]), previous_link(event)
        event_type = str(event["type"])
    except (ValueError, KeyError, TypeError):
        return None
    try:
        hash_holds = event_hash(event, exact) == claimed
    except Exception:
        hash_holds = False
    parsed = event if event_type == CHECKPOINT_TYPE or event_type in whole else None
    return (stream, version, event_id, claimed, prev, event_type, str(event.get("source", "")),
            event.get(SIGNATURE), event.get(SIGNATURE_KID), hash_holds, parsed, exact)


# The records' per-event notes are named tuples: one is made per event read, and a frozen dataclass's __init__
# (a setattr per field) cost several times a tuple's on 100,000 events (ADR 0042, 2026-11-29).
class Kept(NamedTuple):
    """A kept event for the other checks: where it sits in its stream, its raw JSON, parsed if sent back so, and
    whether ``read_json`` read that JSON exact (``orjson.loads`` of it is then the same value)."""

    stream: str
    version: int
    type: str
    raw: bytes
    parsed: dict[str, Any] | None
    exact: bool = False


class Copy(NamedTuple):
    """What the chain check keeps of one record: enough to name it and to check its links."""

    event_id: str
    hash: str
    prev: str
    where: str  # topic/partition@offset


class ChainCheck:
    """Fed the records batch by batch; ``finish`` checks every stream. ``keep`` picks the parsed events the
    other checks need (the rest are dropped as soon as their links are noted)."""

    def __init__(self, prefix: str, keep: Iterable[str], workers: int = 0, whole: Iterable[str] = (),
                 native: bool | None = None) -> None:
        self.prefix = prefix
        self.keep = set(keep)
        self._kept: list[Kept] = []  # raw: a parsed event takes several times its JSON's bytes
        self.whole = frozenset(whole)  # kept types answered parsed when read here (the workers answer them raw)
        self.checkpoints: list[dict[str, Any]] = []
        self.log_order = LogOrder()  # each service's events in publication order, for its checkpoints
        self._signed: list[Signed] = []  # each event's producer signature, checked once the log keys are known
        self.streams: dict[str, dict[int, list[Copy]]] = defaultdict(dict)
        self.findings = Findings()
        self.events = 0
        self.per_topic: dict[str, int] = defaultdict(int)
        self.pending: list[tuple[asyncio.Future[Any], list[Record]]] = []
        self.pool: Executor | None = None
        if workers > 0:
            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(start_method()))
        # the compiled bookkeeping (ADR 0059): the workers answer a batch packed in one ``bytes`` (``read_batch``),
        # noted without a Python object per record; the same findings as ``_take`` and ``finish`` below
        self.native: Any = None
        if audit_core is not None and (native if native is not None else True):
            self.native = self._compiled()

    @property
    def kept(self) -> list[Kept]:
        """Every kept record, in the order read (from the compiled check: made Python objects when asked)."""
        return self.kept_of(None)

    @property
    def signed(self) -> list[Signed]:
        """Each event's producer signature, in the order read (from the compiled check: made when asked)."""
        return self.native.signed() if self.native is not None else self._signed

    def sources(self) -> dict[str, int]:
        """How many events each source published (what the signature check counts when no log key is given)."""
        if self.native is not None:
            return self.native.sources()  # type: ignore[no-any-return]
        return dict(Counter(s.source for s in self._signed))

    def kept_of(self, types: Set[str] | None) -> list[Kept]:
        """The kept records of ``types`` (None: all), in the order read. From the compiled check, as plain tuples
        in the named tuples' field order (those who read them unpack them: a named tuple made per record in
        Python cost more than the whole bookkeeping), made when asked: the verify asks only for the types it
        reads whole, and the scoring streams' records (most of the log) stay with the compiled check for its
        decider (``Chains.confirm_decisions``), which hands back as ``bytes`` only the streams it leaves."""
        if self.native is not None:
            return self.native.kept(None if types is None else set(types))  # type: ignore[no-any-return]
        return self._kept if types is None else [k for k in self._kept if k.type in types]

    async def warm_up(self) -> None:
        """Start the workers before the clock runs (each imports the kit once)."""
        if self.pool is not None:
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(self.pool, read_values, []) for _ in range(8)))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def feed(self, records: list[Record]) -> None:
        """Hand a batch to a worker process (or read it here without workers); ``drain`` takes in what it read."""
        values = [record.value for record in records]
        if self.pool is None:
            self._take(records, read_batch(values) if self.native is not None else read_values(values, self.whole))
        else:
            read = read_batch if self.native is not None else read_values
            future = asyncio.get_running_loop().run_in_executor(self.pool, read, values)
            self.pending.append((future, records))

    def take_fetched(self, fetched: Any) -> None:
        """A partition's fetch read by the compiled reader (``audit_topics.compiled_reader``), its records read
        and hashed already on its threads but for those it left to the Python reader."""
        assert self.native is not None
        self.native.take_fetched(fetched, [read_value(value, frozenset()) for _, value in fetched.left()])

    def restart(self) -> None:
        """What was noted forgotten, to read the topics again from their start (the compiled read gave up)."""
        assert not self.pending
        self.native = self._compiled()

    def _compiled(self) -> Any:
        assert audit_core is not None
        return audit_core.Chains(self.prefix, {r.type: r.topic for r in event_types()}, sorted(self.keep))

    def _take(self, records: list[Record], reads: Any) -> None:
        if self.native is not None:
            packed, left = reads
            self.native.take(records, packed, left)
            return
        for record, read in zip(records, reads, strict=True):
            where = f"{record.topic}/{record.partition}@{record.offset}"
            if read is None:
                self.findings.add("unreadable", where, "not a binhchon CloudEvent")
                continue
            (stream, version, event_id, claimed, prev, event_type, source, signature, kid, hash_holds, parsed,
             exact) = read
            self.events += 1
            topic = unprefixed(record.topic, self.prefix)
            self.per_topic[topic] += 1
            if event_type == CHECKPOINT_TYPE:
                assert parsed is not None
                self.checkpoints.append(parsed)
            else:
                try:
                    expected_topic = event_model(event_type).topic
                except UnknownEventType:
                    self.findings.add("type", stream, f"unknown event type {event_type!r} at {where}", event_id)
                else:
                    if expected_topic != topic:
                        self.findings.add("type", stream, f"{event_type} belongs on {expected_topic}, found on "
                                                          f"{topic} at {where}", event_id)
            if event_type in self.keep:
                self._kept.append(Kept(stream, version, event_type, record.value, parsed, exact))
            self.streams[stream].setdefault(version, []).append(Copy(event_id, claimed, prev, where))
            self.log_order.note(source, record.timestamp, stream, version, event_id, claimed)
            self._signed.append(Signed(source, stream, event_id, claimed, signature, kid, where))
            if not hash_holds:
                self.findings.add("hash", stream, f"content does not match its hash at {where}", event_id)

    async def drain(self, keep_at_most: int = 16) -> None:
        """Take in finished batches, in the order fed (waiting for the oldest once more than ``keep_at_most`` are
        out)."""
        while self.pending and (len(self.pending) > keep_at_most or self.pending[0][0].done()):
            future, records = self.pending.pop(0)
            self._take(records, await future)

    async def finish(self) -> Findings:
        """Every stream checked once all records are in. The workers stay up for the decisions (``close``)."""
        await self.drain(0)
        if self.native is not None:
            return self._finish_native()
        duplicates = 0
        for stream, versions in self.streams.items():
            prev_hash = GENESIS
            for expected, version in enumerate(sorted(versions), start=1):
                copies = versions[version]
                first = copies[0]
                distinct = {(c.event_id, c.hash, c.prev) for c in copies} if len(copies) > 1 else (first,)
                duplicates += len(copies) - len(distinct)
                if len(distinct) > 1:
                    self.findings.add("chain", stream, f"{len(distinct)} different events claim version {version} ("
                                      + ", ".join(c.where for c in copies) + ")", *sorted({c.event_id for c in copies}))
                if version != expected:
                    self.findings.add("chain", stream, f"version {version} where {expected} was expected "
                                      f"(events {expected}..{version - 1} are missing)", first.event_id)
                    prev_hash = first.prev  # report the gap once, then go on checking from here
                if first.prev != prev_hash:
                    self.findings.add("chain", stream, f"v{version} does not link to the event before it "
                                      f"({first.where})", first.event_id)
                prev_hash = first.hash
        self.findings.counts.update(events=self.events, streams=len(self.streams), duplicate_deliveries=duplicates,
                                    per_topic=dict(self.per_topic))
        return self.findings

    def _finish_native(self) -> Findings:
        found, counts = self.native.finish()
        self.findings.discrepancies.extend(Discrepancy(*each) for each in found)
        self.findings.counts.update(counts)
        self.checkpoints = self.native.checkpoints()
        if self.checkpoints:  # the log's order is read only to check checkpoints
            for origin, copies in self.native.log_order().items():
                self.log_order.by_origin[origin] = {(p[1], p[2]): Published(*p) for p in copies}
        return self.findings
