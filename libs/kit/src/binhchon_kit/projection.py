"""Read models derived from the event store, and rebuilt from it at will.

A projection folds one stream's events into one document (the stream's current state) and writes it only if
it is newer than what is stored (guarded by the stream version in one atomic replace), so applying twice or
out of order is harmless. Every event is born unprojected (a mark the store writes with the event itself); the
writer projects its own event at once, and the projector takes the events still marked after a few seconds,
projects those its read model does not hold yet, and marks them, so whatever a crash left unprojected is
projected on the next pass.

A read model keyed otherwise than by stream (a certificate's displays gathered in one document) follows a category
with ``follow``: after each projection of one of its streams, by the writer, on every pass of the projector over an
event still marked (before the mark, so a crash between the two read models is mended), and after a rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from pymongo.errors import OperationFailure

from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore import EventStorePort, event_key

log = logging.getLogger("binhchon.projection")

Fold = Callable[[Sequence[RecordedEvent]], dict[str, Any]]
# a read model kept from a stream's state (the stream, its folded state), idempotent: it may run again on the same
Follower = Callable[[str, dict[str, Any]], Awaitable[None]]


def stream_category(stream: str) -> str:
    return stream.split("-", 1)[0]


class Projections:
    """One read-model collection per stream category (``dossier-…`` → the ``dossiers`` collection, …)."""

    def __init__(self, store: EventStorePort, folds: dict[str, tuple[str, Fold]], db: Any = None) -> None:
        self.store = store
        self.folds = folds  # category → (collection name, fold)
        # the read models' database: by default the one beside the store's events
        self.db: Any = db if db is not None else getattr(store, "db", None)
        self.followers: dict[str, Follower] = {}  # category → what follows its projection

    def follow(self, category: str, follower: Follower) -> None:
        """``follower(stream, state)`` after every projection of a ``category`` stream (see the module's doc)."""
        self.followers[category] = follower

    async def project(self, stream: str, events: Sequence[RecordedEvent] | None = None) -> None:
        """Write the stream's folded state, and make sure it is the latest.

        The write is a plain replace by key (the only write FerretDB does without a scan), so two projectors
        of one stream could land out of order; the one that wrote checks afterwards whether the stream has
        moved on and, if so, projects again. Whichever order they run in, the last write is the newest state.
        """
        category = stream_category(stream)
        if category not in self.folds:  # no read model: held at any version
            if events:
                self.store.projected(stream, events[-1].version)
            return
        name, fold = self.folds[category]
        events = list(events) if events is not None else await self.store.read_stream(stream)
        if not events:
            return
        while True:
            state = fold(events)
            await self._write(self.db[name], stream, events[-1].version, state)
            if await self.store.get(stream, events[-1].version + 1) is None:
                break
            events = await self.store.read_stream(stream)
        if category in self.followers:
            await self.followers[category](stream, state)
        self.store.projected(stream, events[-1].version)  # all done: its mark may go with the published one

    @staticmethod
    async def _write(collection: Any, stream: str, version: int, state: dict[str, Any]) -> None:
        await collection.replace_one({"_id": stream}, {**state, "_id": stream, "version": version}, upsert=True)

    async def catch_up(self, limit: int = 500, older_than: timedelta = timedelta(seconds=5)) -> int:
        """Project every stream with events unprojected for longer than ``older_than`` (younger ones are being
        projected by the writer that appended them) that its read model does not hold yet, then mark them;
        returns how many streams were projected. A stream whose projection or follower fails stays marked (logged,
        tried again on the next pass) without holding back the others."""
        migrate = getattr(self.store, "migrate_legacy_queues", None)
        if migrate is not None:
            await migrate()  # intents an older replica may still write (ADR 0014)
        events = await self.store.unprojected(limit, older_than)
        newest: dict[str, int] = {}
        for event in events:
            newest[event.stream] = max(newest.get(event.stream, 0), event.version)
        projected = 0
        failed: set[str] = set()
        for stream, version in sorted(newest.items()):
            if stream_category(stream) not in self.followers and await self._holds(stream, version):
                continue  # its writer projected it: the usual case (but what follows it may not have run)
            try:
                await self.project(stream)
            except Exception:
                # one stream's fold or follower failing keeps its events marked for the next pass; the others of
                # this pass are still projected and marked, so it never stops the projector for every stream
                log.warning("projecting %s failed; tried again on the next pass", stream, exc_info=True)
                failed.add(stream)
                continue
            projected += 1
        await self.store.mark_projected([event_key(e.stream, e.version) for e in events if e.stream not in failed])
        return projected

    async def _holds(self, stream: str, version: int) -> bool:
        """Whether the stream's read model is at ``version`` or later (a stream no fold reads holds anything)."""
        category = stream_category(stream)
        if category not in self.folds:
            return True
        doc = await self.db[self.folds[category][0]].find_one({"_id": stream}, projection={"version": 1})
        return doc is not None and int(doc.get("version", 0)) >= version

    async def rebuild(self) -> dict[str, int]:
        """Rebuild every read model from the whole store into fresh collections, then switch to them.

        One pass over the store (``replay``: streams interleaved, each in version order), holding the events of
        every stream a fold reads until the pass ends (ADR 0024), then one write per stream."""
        streams: dict[str, list[RecordedEvent]] = {}
        async for event in self.store.replay():
            if stream_category(event.stream) in self.folds:
                streams.setdefault(event.stream, []).append(event)
        counts: dict[str, int] = {}
        for category, (name, fold) in self.folds.items():
            target = self.db[f"{name}__rebuild"]
            await target.drop()
            count = 0
            for stream, events in streams.items():
                if stream_category(stream) == category:
                    await self._write(target, stream, events[-1].version, fold(events))
                    count += 1
            if count:
                await switch(target, self.db[name])
            else:  # no stream of this kind: nothing was written, so there is no collection to switch to
                await self.db[name].delete_many({})
            counts[name] = count
        for stream, events in streams.items():
            category = stream_category(stream)
            if category in self.followers:
                await self.followers[category](stream, self.folds[category][1](events))
        return counts


async def switch(rebuilt: Any, live: Any) -> None:
    """The rebuilt collection takes the live one's name. FerretDB does not implement ``dropTarget`` (code 238,
    NotImplemented): there the live collection is dropped first, and for that moment the read model is empty."""
    try:
        await rebuilt.rename(live.name, dropTarget=True)
    except OperationFailure as exc:
        if exc.code != 238:
            raise
        await live.drop()
        await rebuilt.rename(live.name)
