"""The event store on MongoDB (and FerretDB on PostgreSQL): one document per event in the ``events`` collection.

- ``_id`` = ``<stream>/<version, 10 digits>``: the primary key is the (stream, version) uniqueness that gives
  optimistic concurrency (two writers that read version n both insert n+1, exactly one succeeds), and key order
  is stream-then-version order. A unique index on ``event_id`` makes a repeated handler collide.
- One insert per append, nothing else on the hot path: the event document carries its two marks,
  ``unpublished`` and ``unprojected``, each holding the event's own key while it is set, so the event and its
  announcement to the relay and the projector are one atomic write (no crash window, no intent documents).
  A mark is a sparse sortable key: the relay asks ``unpublished >= ""`` in its order with a limit, which an
  index on the mark answers reading only the events still waiting (MongoDB; FerretDB build b4, ADR 0016),
  however long the log. The relay ``$unset``s the first once
  Kafka has the event, the projector the second once the event is published and in the read model; both in the
  relay's one update where this process's projection already holds the event (``projected``, ADR 0014, 2026-11-30).
  Only these two fields ever change; the hashed content never does (docs/adr/0014, superseding ADR 0002's intents).
- A stream loads with one query: its ``stream`` and the range of its keys (``<stream>/`` up to ``<stream>0``, the
  character after ``/``), sorted by key; ``version()`` is the same query backwards with a limit of one, and
  ``read_all`` walks the keys in pages. Both servers answer these from the ``_id`` index: MongoDB always,
  FerretDB on PostgreSQL with build b4's range, sort and limit pushdown (ADR 0016).
- The hash of the last event a process wrote or read of a stream is remembered (events never change), so a
  writer that just read the stream appends without reading its previous event again.
- Pages (``binhchon_kit.eventstore_pages``, ADR 0019): ``read_stream`` reads a stream's pages, then its events
  from the last paged one on (two queries), and falls back to the events wherever a page is missing, or does not
  link to the page before it, or its last event is not the record's (same version, same hash). Whoever holds a
  page's whole run of events (the writer of its last event, a reader) inserts it, after the events.
  ``MongoEventStore(..., pages=False)`` (the audit) neither reads nor writes pages.
- Segments (``binhchon_kit.eventstore_segments``, ADR 0024): ``mark_projected`` first inserts one segment, a
  compressed copy of the batch's events, and only then unsets their marks; so every event without its
  ``unprojected`` mark is in a segment (once a database's backfill is complete). ``replay`` reads the marked
  events, then the segments, then fills from the record any stream a missing segment left with a gap.
  A ``pages=False`` handle replays the record (``read_all``); every handle writes segments, which keeps that
  promise true whoever settles the events.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Binary
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from binhchon_kit import key_range
from binhchon_kit.canonical import GENESIS_HASH, HASH_ALG, LEGACY_HASH_ALG
from binhchon_kit.contracts.registry import event_model
from binhchon_kit.envelope import to_milliseconds, utc_now
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent
from binhchon_kit.eventstore import (
    AlreadyRecorded,
    ConcurrencyConflict,
    ProjectedHere,
    QueueNames,
    event_key,
    in_stream_order,
)
from binhchon_kit.eventstore_codec import stored_body
from binhchon_kit.eventstore_pages import (
    PAGE_SIZE,
    PAGES,
    full_pages,
    page_document,
    page_events,
    unpaged_tail,
)
from binhchon_kit.eventstore_segments import (
    META,
    SEGMENTS,
    SEGMENTS_READY,
    StreamOrder,
    segment_document,
    segment_events,
)
from binhchon_kit.eventstore_waits import WaitTimes
from binhchon_kit.vietnam_time import now_utc

log = logging.getLogger(__name__)

# A legacy intent (ADR 0002) whose event has not appeared after this long belongs to a writer that died.
ORPHAN_AFTER = timedelta(minutes=10)
UNPUBLISHED = "unpublished"
UNPROJECTED = "unprojected"
LEGACY_QUEUES = {"outbox": UNPUBLISHED, "projection_queue": UNPROJECTED}
REMEMBERED_STREAMS = 10_000
REMEMBERED_TAILS = 256  # streams whose events since their last page a writer keeps, to write the next page
REMEMBERED_PAGES = 256  # pages whose decoded events a process keeps (8,192 events), by the bytes they were read from
PAGES_PER_QUERY = 16  # a stream read's query for pages (32 events each), the next one asked while these decode
RUN_KEYS = 1_000  # keys per mark update: FerretDB b9 serves an `_id $in` of up to 1,000 strings from the index
SEGMENTS_PER_QUERY = 4  # a replay's query for segments (each up to a projector's batch, 500 events)


def _to_document(event: RecordedEvent) -> dict[str, Any]:
    """What the store looks events up by stays fields of the document; the rest is one JSON text (``body``):
    FerretDB decodes a document field by field, and reads a stream of these six times faster than of nested
    ones (ADR 0014, "Compact documents")."""
    key = event_key(event.stream, event.version)
    return {
        "_id": key, "event_id": event.id, "stream": event.stream,
        "version": event.version, "type": event.type, "subject": event.subject, "time": event.time,
        "body": _compact_json(stored_body(event)), UNPUBLISHED: key, UNPROJECTED: key,
    }


# one encoder for every append (``json.dumps`` with options builds a new one per call)
_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def event_content(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored event's fields, whichever layout it was written in (nested before the compact one)."""
    return {**doc, **json.loads(doc["body"])} if "body" in doc else doc


def _page_fields(doc: dict[str, Any]) -> tuple[Any, ...]:
    """What a page's events are decoded from (``page_events``): equal fields, equal events. The bytes as bytes: a
    page written holds a ``Binary``, which equals no ``bytes``, and is read back as ``bytes``."""
    events = doc.get("events")
    return (doc.get("stream"), doc.get("first"), doc.get("last"), doc.get("layout"),
            bytes(events) if isinstance(events, Binary) else events)


def _stream_keys(stream: str) -> dict[str, Any]:
    """The stream's events: its name, and its keys' range (``/`` then ten digits; ``0`` follows ``/``)."""
    return {"stream": stream, "_id": {"$gte": f"{stream}/", "$lt": f"{stream}0"}}


# a limit no stream reaches: FerretDB b4 pushes a sort down only with a limit (ADR 0016)
STREAM_LIMIT = 10_000_000
WAITING = {"$gte": ""}  # every mark is a key, a string: "is set", in a shape the mark's index answers


def from_document(stored: dict[str, Any]) -> RecordedEvent:
    doc = event_content(stored)
    time = doc["time"]
    return RecordedEvent(
        id=doc["event_id"], stream=doc["stream"], version=doc["version"], type=doc["type"],
        schema_version=doc["schema_version"], subject=doc["subject"],
        time=time.replace(tzinfo=UTC) if time.tzinfo is None else time,
        data=doc["data"], actor=Actor.from_document(doc["actor"]),
        correlation_id=doc["correlation_id"], causation_id=doc["causation_id"], source=doc["source"],
        prev_hash=doc["prev_hash"], hash=doc["hash"], hash_alg=doc.get("hash_alg", LEGACY_HASH_ALG),
    )


class MongoEventStore(QueueNames):
    """The event store port on a MongoDB-protocol database."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], source: str, *, pages: bool = True,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.db = db  # the service's database: read models and the relay's lease live beside the events
        self.source = source
        self.clock = clock or now_utc  # stamps each event's time: the service's clock
        self.waits = WaitTimes()
        self.events: AsyncCollection[dict[str, Any]] = db["events"]
        self.pages: AsyncCollection[dict[str, Any]] = db[PAGES]
        self.paging = pages  # False: the record only (the audit), never a page
        self._tails: OrderedDict[str, list[RecordedEvent]] = OrderedDict()  # events since the last page
        # page _id → (its stored fields, its events): a page read again with the very same bytes is not decoded again
        self._decoded_pages: OrderedDict[str, tuple[tuple[Any, ...], list[RecordedEvent]]] = OrderedDict()
        self.appended = asyncio.Event()
        self._last_hash: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._seen_unprojected: dict[str, bool] = {}  # key → still unpublished, as the projector last read it
        self._seen_events: dict[str, RecordedEvent] = {}  # the events of those keys: the next segment's content
        # the relay's last read: the events still unprojected then, by key (the segment of those it settles)
        self._seen_unpublished: dict[str, RecordedEvent] = {}
        self.projected_here = ProjectedHere()
        self.segments: AsyncCollection[dict[str, Any]] = db[SEGMENTS]
        self.meta: AsyncCollection[dict[str, Any]] = db[META]
        self._segments_complete = False  # known true once read: a backfill is never undone (but by drop_segments)

    async def setup(self) -> None:
        await self.events.create_index([("event_id", ASCENDING)], unique=True)
        info = await self.db.client.admin.command("buildInfo")
        ferretdb = "ferretdbVersion" in info
        for mark in (UNPUBLISHED, UNPROJECTED):
            # the waiting events only: sparse on MongoDB; on FerretDB a plain index, whose range scan skips the
            # documents without the mark all the same (missing is NULL, outside any string range)
            if ferretdb:
                await self.events.create_index([(mark, ASCENDING)])
            else:
                await self.events.create_index([(mark, ASCENDING)], sparse=True)
        await self.migrate_legacy_queues()
        if not await self.segments_complete() and await self.events.find_one({}, projection={"_id": 1}) is None:
            await self._segments_are_complete(utc_now())  # a new database: every event will settle into one

    # ---- streams ---------------------------------------------------------------------------------------

    def _remember(self, stream: str, version: int, hash_: str) -> None:
        known = self._last_hash.get(stream)
        if known is None or known[0] < version:
            self._last_hash[stream] = (version, hash_)
            self._last_hash.move_to_end(stream)
            while len(self._last_hash) > REMEMBERED_STREAMS:
                self._last_hash.popitem(last=False)

    async def _hash_of(self, stream: str, version: int) -> str | None:
        known = self._last_hash.get(stream)
        if known is not None and known[0] == version:
            return known[1]
        doc = await self.events.find_one({"_id": event_key(stream, version)}, projection={"hash": 1, "body": 1})
        return None if doc is None else str(event_content(doc)["hash"])

    async def version(self, stream: str) -> int:
        last = await self.events.find_one(_stream_keys(stream), projection={"version": 1},
                                          sort=[("_id", DESCENDING)])
        return int(last["version"]) if last else 0

    async def append(
        self, stream: str, expected_version: int, event: NewEvent, *, subject: str, actor: Actor, cause: Cause
    ) -> RecordedEvent:
        prev_hash = await self._hash_of(stream, expected_version) if expected_version else GENESIS_HASH
        if prev_hash is None:
            raise ConcurrencyConflict(stream, expected_version, await self.version(stream))
        version = expected_version + 1
        registration = event_model(event.type)
        fields: dict[str, Any] = dict(
            id=event.id, stream=stream, version=version, type=event.type,
            schema_version=registration.schema_version, subject=subject, time=to_milliseconds(self.clock()),
            data=event.data.model_dump(mode="json"), actor=actor,
            correlation_id=cause.correlation_id, causation_id=cause.causation_id, source=self.source,
        )
        recorded = RecordedEvent(**fields, prev_hash=prev_hash, hash="", hash_alg=HASH_ALG).sealed()
        try:
            await self.events.insert_one(_to_document(recorded))
        except DuplicateKeyError:
            await self._raise_taken(stream, expected_version, event.id)
        self._remember(stream, version, recorded.hash)
        self.waits.appended(event_key(stream, version))
        self.appended.set()
        if self.paging:
            await self._extend_tail(recorded)
        return recorded

    async def _raise_taken(self, stream: str, expected_version: int, event_id: str) -> None:
        # The rare path: tell a repeated effect (same event id anywhere) from a lost race. By the event_id index:
        # an equality would read every event ever stored, on every lost race (issue 14)
        if await key_range.first_equal(self.events, "event_id", event_id, projection={"_id": 1}) is not None:
            raise AlreadyRecorded(event_id)
        raise ConcurrencyConflict(stream, expected_version, await self.version(stream))

    async def read_stream(self, stream: str) -> list[RecordedEvent]:
        if not self.paging:
            events = await self._read_events(stream, 1)
        else:
            # Most streams never fill a page: where this process holds the stream's events from version 1 (it
            # wrote or read them since), there is no page to ask for, and a command's load stays one query. If
            # another replica has since paged it, reading the events alone is still right, only slower.
            known = self._tails.get(stream)
            paged: list[RecordedEvent]
            if known and known[0].version == 1:
                paged, rest = [], await self._read_events(stream, 1)
            else:
                paged, rest = await self._read_pages_and_rest(stream)
            if paged and (not rest or (rest[0].version, rest[0].hash) != (paged[-1].version, paged[-1].hash)):
                # the pages do not lead to the events: believe the record, not the copies
                log.warning("the pages of %s do not lead to its events; read from the events", stream)
                paged, rest = [], await self._read_events(stream, 1)
            else:
                rest = rest[1:] if paged else rest
                await self._write_pages(full_pages(rest))
            events = paged + rest
            self._keep_tail(stream, unpaged_tail(events))
        if events:
            self._remember(stream, events[-1].version, events[-1].hash)
        return events

    async def _read_pages_and_rest(self, stream: str) -> tuple[list[RecordedEvent], list[RecordedEvent]]:
        """The stream's pages, and its events from the last paged one on (the record must hold that event, with
        the page's hash; the caller checks). Both are asked at once (ADR 0033), the events from where the pages
        should end: this process's last known version of the stream, rounded down to a page boundary; for a
        stream it does not know, its first ``PAGE_SIZE + 1`` events, which are all of it when it never filled a
        page (most streams). An ascending range, the shape FerretDB answers from the key's index (it sorts a
        descending one itself, reading the whole stream). Where those events do not reach from the last paged one
        to the end (a page missing, a long stream not known here, a page written between the two queries), the
        events are read from the last paged one on, as before."""
        known = self._last_hash.get(stream)
        guess = (known[0] - 1) // PAGE_SIZE * PAGE_SIZE if known else 0
        limit = STREAM_LIMIT if guess else PAGE_SIZE + 1
        paged, tail = await asyncio.gather(self._read_pages(stream), self._read_events(stream, max(guess, 1), limit))
        start = paged[-1].version if paged else 1
        if len(tail) < limit and (not tail or tail[0].version <= start <= tail[-1].version):
            return paged, [e for e in tail if e.version >= start]
        return paged, await self._read_events(stream, start)

    async def _read_events(self, stream: str, start: int, limit: int = STREAM_LIMIT) -> list[RecordedEvent]:
        keys = _stream_keys(stream)
        if start > 1:
            keys["_id"] = {"$gte": event_key(stream, start), "$lt": f"{stream}0"}
        docs = await self.events.find(keys, sort=[("_id", ASCENDING)], limit=limit).to_list()
        return sorted((from_document(d) for d in docs), key=lambda e: e.version)

    async def _read_pages(self, stream: str) -> list[RecordedEvent]:
        """The stream's events from version 1 as far as its pages reach without a gap or a broken link."""
        paged: list[RecordedEvent] = []
        async with aclosing(self._page_documents(stream)) as documents:
            async for doc in documents:
                if doc.get("first") != len(paged) + 1:
                    break  # a page missing (its writer crashed): the events from here on
                events = self._page_events(doc)
                if events is None or events[0].prev_hash != (paged[-1].hash if paged else GENESIS_HASH):
                    log.warning("page %s does not read as its stream's next events; read from the events", doc["_id"])
                    break
                paged += events
        return paged

    async def _page_documents(self, stream: str) -> AsyncGenerator[dict[str, Any]]:
        """The stream's pages in order, ``PAGES_PER_QUERY`` per query, the next query asked before this one's pages
        are decoded: FerretDB builds its answer while this process decodes (ADR 0033, "2026-11-29 (later)"). In one
        query, FerretDB built the whole answer first and this process then decoded it, one after the other."""
        end = f"{stream}0"
        pages = _prefetched(self.pages, {"stream": stream}, f"{stream}/", PAGES_PER_QUERY, end=end)
        async with aclosing(pages) as docs:
            async for doc in docs:
                yield doc

    # ---- pages (ADR 0019) ------------------------------------------------------------------------------

    def _page_events(self, doc: dict[str, Any]) -> list[RecordedEvent] | None:
        """``page_events(doc)``, decoded once per process: a page whose stored fields are those of a page this
        process wrote or decoded before gives the same events (decoding is a function of those fields), so they are
        not decoded again (ADR 0033, "append"). The comparison is of the stored bytes, so a page altered or
        rewritten since is decoded and checked afresh. The events are shared between reads, as the memory driver
        shares its own."""
        fields = _page_fields(doc)
        known = self._decoded_pages.get(doc["_id"])
        if known is not None and known[0] == fields:
            self._decoded_pages.move_to_end(doc["_id"])
            return known[1]
        events = page_events(doc)
        if events is not None:
            self._keep_decoded(doc["_id"], fields, events)
        return events

    def _keep_decoded(self, page_id: str, fields: tuple[Any, ...], events: list[RecordedEvent]) -> None:
        self._decoded_pages[page_id] = (fields, events)
        self._decoded_pages.move_to_end(page_id)
        while len(self._decoded_pages) > REMEMBERED_PAGES:
            self._decoded_pages.popitem(last=False)

    def _keep_tail(self, stream: str, tail: list[RecordedEvent]) -> None:
        self._tails[stream] = tail
        self._tails.move_to_end(stream)
        while len(self._tails) > REMEMBERED_TAILS:
            self._tails.popitem(last=False)

    async def _extend_tail(self, recorded: RecordedEvent) -> None:
        """Keep the events since the stream's last page boundary; the append that completes a page writes it."""
        tail = self._tails.get(recorded.stream)
        if recorded.version % PAGE_SIZE == 1:
            tail = [recorded]
        elif tail and tail[-1].version == recorded.version - 1:
            tail = [*tail, recorded]
        else:
            self._tails.pop(recorded.stream, None)  # not known since the boundary: a reader will write the page
            return
        if len(tail) == PAGE_SIZE:
            await self._write_pages([tail])
            tail = []
        self._keep_tail(recorded.stream, tail)

    async def _write_pages(self, pages: list[list[RecordedEvent]]) -> None:
        """Insert these pages, their events being stored already. A page already there (a race, a repeat) is left
        as it is; a failure leaves the page to the next reader: the event is recorded whatever happens here."""
        for events in pages:
            page = page_document(events)
            try:
                await self.pages.insert_one(page)
            except DuplicateKeyError:
                continue  # another's page: read (and checked) when it is read
            except PyMongoError as exc:
                log.warning("page of %s from v%d not written: %s", events[0].stream, events[0].version, exc)
                continue
            # the page holds these events as written: its next read need not decode them
            self._keep_decoded(page["_id"], _page_fields(page), list(events))

    async def verify_pages(self) -> list[str]:
        """Every page against the events it copies (the audit): a page that does not read, or that differs from
        the event documents, is a problem. Reads every page and every paged event's document. Then the segments
        (``verify_segments``)."""
        problems: list[str] = []
        async for doc in self.pages.find({}, sort=[("_id", ASCENDING)]):
            events = page_events(doc)
            if events is None:
                problems.append(f"page {doc['_id']}: does not read as consecutive linked events")
                continue
            for event in events:
                if await self.get(event.stream, event.version) != event:
                    problems.append(f"page {doc['_id']}: {event.stream} v{event.version} differs from its event")
        return problems + await self.verify_segments()

    async def drop_pages(self, stream: str | None = None) -> int:
        """Delete the pages of ``stream`` (or all): after the events themselves were rewritten (erasure), or a
        page found wrong. Always safe: readers read the events until the pages are written again."""
        query = _stream_keys(stream) if stream is not None else {}
        if stream is not None:
            self._tails.pop(stream, None)
        else:
            self._tails.clear()
        self._decoded_pages.clear()
        return (await self.pages.delete_many(query)).deleted_count

    # ---- segments and the replay (ADR 0024) --------------------------------------------------------------

    async def _write_segment(self, events: Sequence[RecordedEvent]) -> None:
        if events:
            await self.segments.insert_one(segment_document(events, utc_now()))

    async def segments_complete(self) -> bool:
        """Whether every settled event is in a segment: the database's backfill is done (or it began with them)."""
        if not self._segments_complete:
            self._segments_complete = await self.meta.find_one({"_id": SEGMENTS_READY}) is not None
        return self._segments_complete

    async def replay(self, batch_size: int = 1000) -> AsyncIterator[RecordedEvent]:
        """Every event once, each stream in version order, streams interleaved (no order between them).

        The events still marked unprojected are read first, then the segments, then those marked events: an event
        not marked when this began was put in a segment before, and segments are never deleted during a replay.
        Copies are dropped and early versions held (``StreamOrder``); a stream still waiting for a version at the
        end (a segment lost) is read from the record from that version on. A database without its backfill is
        replayed from the record, in key order, writing the segments as it goes (the backfill)."""
        if not self.paging:
            async for event in self.read_all(batch_size):
                yield event
            return
        if not await self.segments_complete():
            async for event in self._backfill(batch_size):
                yield event
            return
        marked = await self._marked(batch_size)
        order = StreamOrder()
        unreadable = None
        async with aclosing(self._decoded_segments()) as segments:
            async for segment_id, events in segments:
                if events is None:
                    unreadable = segment_id
                    break
                for event in events:
                    for ready in order.offer(event):
                        yield ready
        if unreadable is not None:
            log.warning("segment %s does not read; the replay finishes from the record", unreadable)
            async for event in self.read_all(batch_size):
                for ready in order.offer(event):
                    yield ready
            return
        for event in marked:
            for ready in order.offer(event):
                yield ready
        for stream, version in order.gaps().items():
            log.warning("%s v%d is in no segment; the replay reads it from the record", stream, version)
            for event in await self._read_events(stream, version):
                for ready in order.offer(event):
                    yield ready

    async def _decoded_segments(self) -> AsyncGenerator[tuple[str, list[RecordedEvent] | None]]:
        """Every segment's ``_id`` and events (None: it does not read), in ``_id`` order. Decoded on the event loop:
        the next query's answer (a few hundred KB) lands in the socket's buffer meanwhile. Decoding in a worker
        thread was measured (ADR 0033): more CPU (the GIL), no faster."""
        async with aclosing(self._segment_documents()) as documents:
            async for doc in documents:
                yield doc["_id"], segment_events(doc)

    async def _segment_documents(self) -> AsyncGenerator[dict[str, Any]]:
        """Every segment, in ``_id`` order, a few per query; the next query runs in the server while the caller
        decodes this one's segments (FerretDB and PostgreSQL are other processes)."""
        async with aclosing(_prefetched(self.segments, {}, "", SEGMENTS_PER_QUERY)) as docs:
            async for doc in docs:
                yield doc

    async def _marked(self, batch_size: int) -> list[RecordedEvent]:
        """Every event still marked unprojected, now (the events not in a segment yet), by the mark's index."""
        marked: list[RecordedEvent] = []
        bound: dict[str, Any] = WAITING
        while True:
            docs = await self.events.find({UNPROJECTED: bound}, sort=[(UNPROJECTED, ASCENDING)],
                                          limit=batch_size).to_list()
            marked += [from_document(d) for d in docs]
            if len(docs) < batch_size:
                return marked
            bound = {"$gt": docs[-1][UNPROJECTED]}

    async def _backfill(self, batch_size: int) -> AsyncIterator[RecordedEvent]:
        """The record in key order, each batch also written as a segment; then the mark that segments are
        complete. Interrupted, it is simply done again (copies are harmless)."""
        started = utc_now()
        batch: list[RecordedEvent] = []
        async for event in self.read_all(batch_size):
            batch.append(event)
            if len(batch) == batch_size:
                await self._write_segment(batch)
                batch = []
            yield event
        await self._write_segment(batch)
        await self._segments_are_complete(started)

    async def _segments_are_complete(self, since: datetime) -> None:
        mark = {"_id": SEGMENTS_READY, "complete_since": since}
        try:
            await self.meta.replace_one({"_id": SEGMENTS_READY}, mark, upsert=True)
        except DuplicateKeyError:
            # two replicas finished their backfill at once and both upserted: the other's insert won; either
            # mark is true (each backfill covered every event settled before it started), so this one replaces it
            await self.meta.replace_one({"_id": SEGMENTS_READY}, mark)
        self._segments_complete = True

    async def drop_segments(self) -> int:
        """Forget the segments (after the record was restored from a backup, or rewritten): the next replay reads
        the record and writes them again. The mark goes first, so no replay trusts a half-deleted set."""
        await self.meta.delete_one({"_id": SEGMENTS_READY})
        self._segments_complete = False
        return (await self.segments.delete_many({})).deleted_count

    async def verify_segments(self) -> list[str]:
        """Every segment against the record (the audit): a segment that does not read, or holds an event that
        differs from the record's (its content fails its hash, or its hash is not the record's) or that the
        record does not hold; and, once the backfill is complete, a settled event in no segment."""
        recorded: dict[str, tuple[str, bool]] = {}  # key → (hash, still marked unprojected)
        bound: dict[str, Any] = {"$gte": ""}
        while True:
            docs = await self.events.find({"_id": bound}, sort=[("_id", ASCENDING)], limit=1000).to_list()
            for doc in docs:
                recorded[doc["_id"]] = (str(event_content(doc)["hash"]), bool(doc.get(UNPROJECTED)))
            if len(docs) < 1000:
                break
            bound = {"$gt": docs[-1]["_id"]}
        problems: list[str] = []
        covered: set[str] = set()
        async for doc in self.segments.find({}, sort=[("_id", ASCENDING)]):
            events = segment_events(doc)
            if events is None:
                problems.append(f"segment {doc['_id']}: does not read as events")
                continue
            for event in events:
                key = event_key(event.stream, event.version)
                covered.add(key)
                record = recorded.get(key)
                if record is None:
                    problems.append(f"segment {doc['_id']}: {event.stream} v{event.version} is not in the record")
                elif record[0] != event.hash or not event.verify_hash():
                    problems.append(f"segment {doc['_id']}: {event.stream} v{event.version} differs from its event")
        if await self.meta.find_one({"_id": SEGMENTS_READY}) is not None:
            problems += [f"{key}: settled, and in no segment" for key, (_, marked) in recorded.items()
                         if not marked and key not in covered]
        return problems

    async def get(self, stream: str, version: int) -> RecordedEvent | None:
        doc = await self.events.find_one({"_id": event_key(stream, version)})
        return from_document(doc) if doc else None

    async def read_all(self, batch_size: int = 1000) -> AsyncIterator[RecordedEvent]:
        # by key (stream, then version), never by time: concurrent writers commit out of time order
        # in pages by key, each a range the `_id` index answers (one cursor would make FerretDB sort everything)
        bound: dict[str, Any] = {"$gte": ""}
        while True:
            docs = await self.events.find({"_id": bound}, sort=[("_id", ASCENDING)], limit=batch_size).to_list()
            for doc in docs:
                yield from_document(doc)
            if len(docs) < batch_size:
                return
            bound = {"$gt": docs[-1]["_id"]}

    # ---- the two marks ---------------------------------------------------------------------------------

    async def unpublished(self, limit: int) -> list[RecordedEvent]:
        docs = await self.events.find({UNPUBLISHED: WAITING}, sort=[(UNPUBLISHED, ASCENDING)], limit=limit).to_list()
        events = [from_document(d) for d in docs]
        self._seen_unpublished = {d["_id"]: e for d, e in zip(docs, events, strict=True) if d.get(UNPROJECTED)}
        return events

    async def mark_published(self, keys: Sequence[str]) -> None:
        # An event this process's projection already holds (its writer's, ``projected``) loses both marks in one
        # update: the projector would otherwise come back for it, read it and write it whole again (ADR 0014,
        # 2026-11-30). Its segment first (ADR 0024: an event without its projected mark is in one); should that
        # insert fail, those events are only marked published, as before, and the projector settles them. No
        # projector writes them meanwhile: it leaves an unpublished event's document alone (``_settled``).
        both = [e for k in keys if (e := self._seen_unpublished.get(k)) is not None and self.projected_here.holds(e)]
        if both:
            try:
                await self._write_segment(both)
            except PyMongoError:
                log.warning("a segment of %d published events failed: the projector settles them", len(both))
                both = []
        settled = {event_key(e.stream, e.version) for e in both}
        await self._unset([UNPUBLISHED, UNPROJECTED], [k for k in keys if k in settled])
        await self._unset([UNPUBLISHED], [k for k in keys if k not in settled])

    def projected(self, stream: str, version: int) -> None:
        self.projected_here.add(stream, version)

    async def unprojected(self, limit: int, older_than: timedelta | None = None) -> list[RecordedEvent]:
        docs = await self.events.find({UNPROJECTED: WAITING}, sort=[(UNPROJECTED, ASCENDING)], limit=limit).to_list()
        self._seen_unprojected = {d["_id"]: bool(d.get(UNPUBLISHED)) for d in docs}
        events = [from_document(d) for d in docs]
        self._seen_events = {event_key(e.stream, e.version): e for e in events}
        return in_stream_order(self.waits.waited(events, older_than))

    async def mark_projected(self, keys: Sequence[str]) -> None:
        # Only once published: FerretDB's update reads the document and writes it back whole, so a projector
        # and the relay unsetting their marks at once could each restore the other's. The relay has finished
        # with a published event, so the projector alone writes it then: a plain update by `_id`.
        # The events go into a segment first (ADR 0024): an event without its mark is always in one. Should the
        # insert fail, it raises here and no mark is unset: the projector is offered the events again. So only
        # the events whose mark is sure to go are copied, or a projector would copy the same unpublished events
        # into a new segment on every pass while Kafka is down.
        settled = await self._settled(keys)
        await self._write_segment(settled)
        await self._unset([UNPROJECTED], [event_key(e.stream, e.version) for e in settled])

    async def _settled(self, keys: Sequence[str]) -> list[RecordedEvent]:
        """The events of these keys that are published and still marked unprojected: as the last
        ``unprojected()`` read them, otherwise (read then as unpublished, or not read by this handle) as the record
        holds them now: the rare path, Kafka being down. An unknown key has none."""
        seen, settled = self._seen_unprojected, []
        for key in keys:
            event = self._seen_events.get(key)
            if event is not None and seen.get(key) is False:
                settled.append(event)
                continue
            doc = await self.events.find_one({"_id": key})
            if doc is not None and not doc.get(UNPUBLISHED) and doc.get(UNPROJECTED):
                settled.append(from_document(doc))
        return settled

    async def _unset(self, marks: Sequence[str], keys: Sequence[str]) -> None:
        # One update per key, or per run of consecutive versions of one stream, asked as its keys, `_id $in` (at
        # most ``RUN_KEYS``): FerretDB b9 answers that list from the `_id` index, reading the run's rows only, and
        # writes each event back as before. Not as the range from the first key to the last: FerretDB pushes a
        # range down as two one-sided conditions (each OR'd with the array arm), and PostgreSQL walked the `_id`
        # index from one bound to the end of the table (half of it on average, issue 14; ADR 0053, 2026-11-30).
        unset = {"$unset": dict.fromkeys(marks, "")}
        for stream, first, last in _runs(keys):
            if first == last:
                await self.events.update_one({"_id": event_key(stream, first)}, unset)
                continue
            for low in range(first, last + 1, RUN_KEYS):
                run = [event_key(stream, v) for v in range(low, min(low + RUN_KEYS, last + 1))]
                await self.events.update_many({"_id": {"$in": run}}, unset)

    # ---- the layout before ADR 0014 --------------------------------------------------------------------

    async def migrate_legacy_queues(self) -> int:
        """Turn the intents of ADR 0002's ``outbox`` and ``projection_queue`` into the marks on their events.

        Idempotent, and run at every start and projector pass, so an older replica still writing intents during a
        rolling deploy strands nothing: the mark is set before the intent is deleted; an intent whose event has
        not come is left for the next pass, and dropped once it is ``ORPHAN_AFTER`` old. Returns how many
        intents were turned into marks."""
        moved = 0
        now = datetime.now(UTC)
        for queue, mark in LEGACY_QUEUES.items():
            entries = await self.db[queue].find({}).to_list()
            done: list[str] = []
            for entry in entries:
                if await self.events.find_one({"_id": entry["_id"]}, projection={"_id": 1}) is not None:
                    await self.events.update_one({"_id": entry["_id"]}, {"$set": {mark: entry["_id"]}})
                    done.append(entry["_id"])
                    moved += 1
                    continue
                at = entry["at"] if entry["at"].tzinfo else entry["at"].replace(tzinfo=UTC)
                if now - at > ORPHAN_AFTER:
                    done.append(entry["_id"])
            for key in done:
                await self.db[queue].delete_one({"_id": key})
        return moved


def _runs(keys: Sequence[str]) -> list[tuple[str, int, int]]:
    """The keys as runs of consecutive versions of one stream: (stream, first version, last version)."""
    versions = sorted({(stream, int(version)) for stream, version in (key.rsplit("/", 1) for key in keys)})
    runs: list[tuple[str, int, int]] = []
    for stream, version in versions:
        if runs and runs[-1][0] == stream and runs[-1][2] == version - 1:
            runs[-1] = (stream, runs[-1][1], version)
        else:
            runs.append((stream, version, version))
    return runs


async def _prefetched(collection: AsyncCollection[dict[str, Any]], equals: dict[str, Any], start: str, per_query: int,
                      end: str | None = None) -> AsyncGenerator[dict[str, Any]]:
    """The documents whose ``_id`` is from ``start`` to before ``end`` (and that match ``equals``), in ``_id``
    order, ``per_query`` per query, the next query asked before this one's documents are handed on: the server
    builds its answer while this process decodes (FerretDB and PostgreSQL are other processes)."""

    below = {} if end is None else {"$lt": end}

    def query(bound: dict[str, Any]) -> asyncio.Task[list[dict[str, Any]]]:
        return asyncio.ensure_future(collection.find({**equals, "_id": {**bound, **below}}, sort=[("_id", ASCENDING)],
                                                     limit=per_query).to_list())

    pending: asyncio.Task[list[dict[str, Any]]] | None = query({"$gte": start})
    try:
        while pending is not None:
            docs = await pending
            pending = query({"$gt": docs[-1]["_id"]}) if len(docs) == per_query else None
            await asyncio.sleep(0)  # let the next query go out before the decoding holds the loop
            for doc in docs:
                yield doc
    finally:
        if pending is not None:
            pending.cancel()
