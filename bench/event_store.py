"""Benchmark: binhchon's event store beside the `eventsourcing` library's recorders, same 1 KB events, one run.

    uv sync --group bench    # the peer library (a bench-only dependency group)
    uv run python bench/event_store.py [--postgres-url postgresql://…] [--quick]

For each store, in a fresh database holding nothing else:
- ``append_c1`` / ``append_c8``: 1-event commits, each opening a new stream, 1 or 8 writers at a time;
- ``stream_growth``: streams grown by 10 successive 1-event commits each (the writer knows the version);
- ``read_stream_1000``: one stream of 1,000 events read whole (its events written first); for binhchon also
  ``read_stream_1000_record``: the same stream read as the audit reads it, from the event documents alone
  (``pages=False``, docs/adr/0019), i.e. what every stream read cost before pages; and for every store
  ``read_stream_1000_p50``: the median of 7 more reads of it (the machine is shared: one read is noisy);
- ``replay_20000``: every event of the store read once, each stream in version order, as the projections'
  rebuild does; the appends above are topped up to exactly 20,000 events first. For binhchon it is measured
  on a *settled* store: the bench first does what the relay and the projector do within seconds of an append
  (``unpublished``/``mark_published``, then ``unprojected``/``mark_projected`` in batches of 500; timed as
  ``settle``) and then calls ``replay()`` (ADR 0024; ``read_all()`` for a kit without it).
  ``replay_20000_unsettled`` is the same replay before settling (every event still marked: services down),
  ``replay_20000_record`` the record read in key order (``read_all``, what the audit reads).
  ``replay_20000_p50``: the median of 3 more replays (the settled one for binhchon).

The stores:
- ``binhchon``: the MongoDB driver of the event store port (``binhchon_kit.eventstore_mongo.MongoEventStore``,
  docs/adr/0014) through its public methods (``append``, ``read_stream``,
  ``read_all``) on the MongoDB-protocol server the tests use (``MONGODB_URL``, or the native stack), with its
  validation and hash chain; a ``bench.recorded`` event type is registered for the run;
- ``eventsourcing-postgres``: the library's ``PostgresApplicationRecorder`` (``insert_events``,
  ``select_events``, ``select_notifications``) on PostgreSQL: ``--postgres-url``, or, without it, a throwaway
  PostgreSQL 15 this script starts itself (``initdb`` into a temporary directory, run as ``nobody`` when
  started as root, a free port, default settings, so fsync on) and stops;
- ``eventsourcing-sqlite``: the same library's SQLite recorder in a temporary file, in-process.
The library's recorders are synchronous: its 8 writers are 8 threads sharing a pool of 8 connections. Its
events are stored as the JSON of the same 1 KB body, encoded in the timed loop and decoded on replay.

``server-raw-find`` lines: the same documents read by a bare pymongo ``find`` in the same run (no decoding, no
order asked): the ceiling of any driver on that server. ``server-raw-insert``: a bare ``insert_one`` of a
two-field document, one at a time, beside ``append_c1``: the floor of any one-document append on that server.

``--payload varied``: each event's note is 150 words drawn at random (seeded) from a Vietnamese vocabulary
instead of one sentence repeated, so that compressed pages (ADR 0019) do not profit from a payload that
compresses unlike real dossiers; the library stores the same events.

The two PostgreSQL-backed stores run phase by phase, interleaved (appends c1, c8, growth, the stream read, the
replay: ours, then the library's), each phase's load average printed before the library's turn: the machine is
shared and a run lasts minutes, so a ratio compares lines measured seconds apart. The replay lines say what each
side delivers per event (``delivers``): our ``replay()`` yields whole ``RecordedEvent`` objects with their data
decoded; the library's ``select_notifications`` yields rows with the state as bytes, which the bench loop decodes
with ``json.loads`` (what a projection would have to do), so both decode every payload.

One JSON line per measurement, printed, never asserted: ``{"bench": "event_store", "store": …, "op": …,
"per_s": …}`` (``"ms"`` for the stream read). When the binhchon store runs on FerretDB with a PostgreSQL
backend, pass that PostgreSQL as ``--postgres-url`` so both run on the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import os
import pwd
import random
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pymongo import AsyncMongoClient

from binhchon_kit.contracts.registry import EventData, event_model, registered
from binhchon_kit.events import Actor, Cause, NewEvent
from binhchon_kit.eventstore import event_key
from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.store_principals import redacted
from binhchon_kit.testing.infra import REPO, provide

PG_BIN = Path("/usr/lib/postgresql/15/bin")
BENCH_TYPE = "bench.recorded"
ACTOR = Actor("bench", ("admin",))
CAUSE = Cause("bench", "bench")


class Sizes:
    def __init__(self, quick: bool) -> None:
        scale = 10 if quick else 1
        self.c1 = 2000 // scale
        self.c8 = 4000 // scale
        self.growth_streams = 200 // scale
        self.stream = 1000 // scale
        self.replay = 20000 // scale


VOCABULARY = ("hợp tác xã nông nghiệp đông hưng thái bình sản xuất lúa gạo hữu cơ chứng nhận tiêu chuẩn hồ sơ "
              "đăng ký kiểm tra đánh giá hội đồng thẩm định sản phẩm chất lượng an toàn thực phẩm nguồn gốc xuất "
              "xứ bao bì nhãn hàng hóa doanh nghiệp hộ kinh doanh tỉnh huyện xã thôn ấp năm tháng ngày số lượng "
              "tấn kilôgam giá trị đồng mã vùng trồng cơ sở đóng gói chế biến bảo quản vận chuyển").split()
PAYLOAD = {"kind": "repeated"}


def payload(n: int) -> dict[str, Any]:
    """About 1 KB of JSON, different for each event."""
    if PAYLOAD["kind"] == "varied":
        words = random.Random(n).choices(VOCABULARY, k=150)
        return {"n": n, "note": f"bench event {n:08d} " + " ".join(words)}
    return {"n": n, "note": f"bench event {n:08d} " + "Hợp tác xã Nông nghiệp Đông Hưng, xã Đông Hưng. " * 19}


def emit(store: str, op: str, **values: Any) -> None:
    print(json.dumps({"bench": "event_store", "store": store, "op": op, **values}), flush=True)


def median_ms(timings: list[float]) -> float:
    return round(statistics.median(timings) * 1000, 1)


READS = 7


def rate(store: str, op: str, count: int, seconds: float, **more: Any) -> None:
    emit(store, op, per_s=round(count / seconds, 1), events=count, seconds=round(seconds, 2), **more)


# What one replayed event is, on each side, in the replay lines: like for like, both decode each event's payload
# from JSON; ours also builds the event object its callers use, the library's bench loop does not.
OURS_DELIVERS = "RecordedEvent: every field, data decoded from JSON"
LIBRARY_DELIVERS = "notification row: ids and state bytes, then json.loads(state) in the bench loop"


# ---- binhchon's store ------------------------------------------------------------------------------------


def register_bench_type() -> type[EventData]:
    try:
        return event_model(BENCH_TYPE).model
    except KeyError:
        pass

    @registered(BENCH_TYPE, topic="bench.events")
    class BenchRecorded(EventData):
        """A benchmark's event: about 1 KB of JSON."""

        n: int
        note: str

    return BenchRecorded


async def concurrently(count: int, writers: int, one: Callable[[int], Awaitable[Any]]) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            await one(queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(writers)))
    return time.perf_counter() - started


REPLAYS = 3  # more replays whose median is the ``_p50`` line (the machine is shared: one replay is noisy)


async def replay(name: str, op: str, store: MongoEventStore, repeats: int = 0) -> None:
    """Every event once, each stream in version order: ``replay()`` (ADR 0024), or ``read_all()`` before it."""
    timings = []
    for _ in range(1 + repeats):
        events = store.replay() if hasattr(store, "replay") else store.read_all()
        started = time.perf_counter()
        count = 0
        async for _ in events:
            count += 1
        timings.append(time.perf_counter() - started)
    rate(name, op, count, timings[0], delivers=OURS_DELIVERS)
    if repeats:
        rate(name, f"{op}_p50", count, statistics.median(timings[1:]), delivers=OURS_DELIVERS)


async def settle(store: MongoEventStore, batch: int = 500) -> int:
    """What the relay and the projector do to every event within seconds: mark it published, then projected,
    in the batches the services take (``catch_up``'s 500). Returns how many events were settled."""
    settled = 0
    while waiting := await store.unpublished(batch):
        await store.mark_published([event_key(e.stream, e.version) for e in waiting])
    while waiting := await store.unprojected(batch):
        await store.mark_projected([event_key(e.stream, e.version) for e in waiting])
        settled += len(waiting)
    return settled


async def bench_binhchon(mongodb: str, sizes: Sizes) -> AsyncIterator[str]:
    """binhchon's lines, phase by phase: it yields each phase's name once its lines are printed, so that the
    library's same phase runs right after it (``interleaved``)."""
    model = register_bench_type()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb)
    database = f"bench_es_{uuid.uuid4().hex[:8]}"
    store = MongoEventStore(client[database], "/binhchon/bench")
    await store.setup()
    written = 0

    async def new_stream(n: int, tag: str) -> None:
        await store.append(f"bench-{tag}{n}", 0, NewEvent(model(**payload(n))), subject="bench",
                           actor=ACTOR, cause=CAUSE)

    try:
        seconds = await concurrently(sizes.c1, 1, lambda n: new_stream(n, "a"))
        rate("binhchon", "append_c1", sizes.c1, seconds)
        # the server's own floor, same run: a bare insert_one of a two-field document, one at a time, into a
        # collection with no index but `_id` (FerretDB, then PostgreSQL's BEGIN, INSERT, COMMIT)
        bare = client[database]["bare_inserts"]
        seconds = await concurrently(sizes.c1, 1, lambda n: bare.insert_one({"_id": f"raw-{n}", "n": n}))
        rate("server-raw-insert", "append_c1", sizes.c1, seconds, document="{_id, n}")
        await bare.drop()
        yield "append_c1"
        seconds = await concurrently(sizes.c8, 8, lambda n: new_stream(n, "b"))
        rate("binhchon", "append_c8", sizes.c8, seconds)
        yield "append_c8"
        written = sizes.c1 + sizes.c8

        async def grow(s: int) -> None:
            for version in range(10):
                await store.append(f"bench-g{s}", version, NewEvent(model(**payload(version))),
                                   subject="bench", actor=ACTOR, cause=CAUSE)

        seconds = await concurrently(sizes.growth_streams, 1, grow)
        rate("binhchon", "stream_growth", sizes.growth_streams * 10, seconds)
        yield "stream_growth"
        written += sizes.growth_streams * 10

        for version in range(sizes.stream):
            await store.append("bench-long", version, NewEvent(model(**payload(version))),
                               subject="bench", actor=ACTOR, cause=CAUSE)
        written += sizes.stream
        started = time.perf_counter()
        events = await store.read_stream("bench-long")
        emit("binhchon", f"read_stream_{sizes.stream}", ms=round((time.perf_counter() - started) * 1000, 1),
             events=len(events))
        timings = []
        for _ in range(READS):
            started = time.perf_counter()
            await store.read_stream("bench-long")
            timings.append(time.perf_counter() - started)
        emit("binhchon", f"read_stream_{sizes.stream}_p50", ms=median_ms(timings), reads=READS)
        if "pages" in inspect.signature(MongoEventStore).parameters:  # so that the same script runs before them
            record = MongoEventStore(client[database], "/binhchon/bench", pages=False)
            started = time.perf_counter()
            events = await record.read_stream("bench-long")
            emit("binhchon", f"read_stream_{sizes.stream}_record",
                 ms=round((time.perf_counter() - started) * 1000, 1), events=len(events))
        # the server's own ceiling, same documents, same run: the raw find, no decoding into events
        raw = client[database]["events"]
        started = time.perf_counter()
        docs = await raw.find({"stream": "bench-long"}).to_list()
        emit("server-raw-find", f"read_stream_{sizes.stream}", ms=round((time.perf_counter() - started) * 1000, 1),
             events=len(docs))
        yield "read_stream"

        await concurrently(max(0, sizes.replay - written), 8, lambda n: new_stream(n, "c"))
        # unsettled: every event still waits for the relay and the projector (a store whose services are down)
        await replay("binhchon", f"replay_{sizes.replay}_unsettled", store)
        started = time.perf_counter()
        settled = await settle(store)
        rate("binhchon", "settle", settled, time.perf_counter() - started)
        # settled, as the services leave a store within seconds: what a rebuild reads
        await replay("binhchon", f"replay_{sizes.replay}", store, REPLAYS)
        started = time.perf_counter()
        count = 0
        async for _ in store.read_all():
            count += 1
        rate("binhchon", f"replay_{sizes.replay}_record", count, time.perf_counter() - started)
        started = time.perf_counter()
        count = 0
        async for _ in raw.find({}, batch_size=1000):
            count += 1
        rate("server-raw-find", f"replay_{sizes.replay}", count, time.perf_counter() - started)
        yield "replay"
    finally:
        await client.drop_database(database)
        await client.close()


# ---- the eventsourcing library ---------------------------------------------------------------------------


def bench_library(name: str, recorder: Any, sizes: Sizes) -> Iterator[str]:
    from eventsourcing.persistence import StoredEvent

    def stored(stream: str, version: int, n: int) -> Any:
        return StoredEvent(originator_id=stream, originator_version=version, topic=BENCH_TYPE,
                           state=json.dumps(payload(n)).encode())

    def commits(count: int, writers: int, one: Callable[[int], None]) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(one, range(count)))
        return time.perf_counter() - started

    rate(name, "append_c1", sizes.c1, commits(sizes.c1, 1, lambda n: recorder.insert_events([stored(f"a{n}", 1, n)])))
    yield "append_c1"
    rate(name, "append_c8", sizes.c8, commits(sizes.c8, 8, lambda n: recorder.insert_events([stored(f"b{n}", 1, n)])))
    yield "append_c8"
    written = sizes.c1 + sizes.c8

    def grow(s: int) -> None:
        for version in range(1, 11):
            recorder.insert_events([stored(f"g{s}", version, version)])

    rate(name, "stream_growth", sizes.growth_streams * 10, commits(sizes.growth_streams, 1, grow))
    yield "stream_growth"
    written += sizes.growth_streams * 10
    for version in range(1, sizes.stream + 1):
        recorder.insert_events([stored("long", version, version)])
    written += sizes.stream
    started = time.perf_counter()
    events = [json.loads(e.state) for e in recorder.select_events("long")]
    emit(name, f"read_stream_{sizes.stream}", ms=round((time.perf_counter() - started) * 1000, 1), events=len(events))
    timings = []
    for _ in range(READS):
        started = time.perf_counter()
        [json.loads(e.state) for e in recorder.select_events("long")]
        timings.append(time.perf_counter() - started)
    emit(name, f"read_stream_{sizes.stream}_p50", ms=median_ms(timings), reads=READS)
    yield "read_stream"

    commits(max(0, sizes.replay - written), 8, lambda n: recorder.insert_events([stored(f"c{n}", 1, n)]))
    timings = []
    for _ in range(1 + REPLAYS):
        started = time.perf_counter()
        count, start = 0, 1
        while page := recorder.select_notifications(start, 500):
            for notification in page:
                json.loads(notification.state)
            count += len(page)
            start = page[-1].id + 1
        timings.append(time.perf_counter() - started)
    rate(name, f"replay_{sizes.replay}", count, timings[0], delivers=LIBRARY_DELIVERS)
    rate(name, f"replay_{sizes.replay}_p50", count, statistics.median(timings[1:]), delivers=LIBRARY_DELIVERS)
    yield "replay"


def bench_library_postgres(url: str, sizes: Sizes) -> Iterator[str]:
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    parts = urlparse(url)
    datastore = PostgresDatastore(parts.path.lstrip("/") or "postgres", parts.hostname or "127.0.0.1",
                                  parts.port or 5432, parts.username or "postgres", parts.password or "",
                                  pool_size=8, originator_id_type="text")
    table = f"bench_events_{uuid.uuid4().hex[:8]}"
    recorder = PostgresApplicationRecorder(datastore, events_table_name=table)
    recorder.create_table()
    try:
        yield from bench_library("eventsourcing-postgres", recorder, sizes)
    finally:
        with datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        datastore.close()


def bench_library_sqlite(sizes: Sizes) -> None:
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    with tempfile.TemporaryDirectory() as directory:
        datastore = SQLiteDatastore(str(Path(directory) / "events.db"), pool_size=8, originator_id_type="text")
        recorder = SQLiteApplicationRecorder(datastore)
        recorder.create_table()
        for _ in bench_library("eventsourcing-sqlite", recorder, sizes):
            pass
        datastore.close()


async def interleaved(ours: AsyncIterator[str], library: Iterator[str]) -> None:
    """Each phase of ours, then the same phase of the library: the machine is shared, and its load drifts over the
    minutes a run takes, so the two lines of a phase are measured a few seconds apart, not ten minutes. (The
    library's calls block the event loop, which has nothing else to do meanwhile.)"""
    async for phase in ours:
        print(json.dumps({"bench": "event_store", "phase": phase, "load": os.getloadavg()[0]}), flush=True)
        if next(library, None) != phase:
            raise RuntimeError(f"the library's bench is not at phase {phase}")
    for _ in library:
        pass


# ---- a throwaway PostgreSQL ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """PostgreSQL 15 initialised into a temporary directory, on a free port; as ``nobody`` when we are root
    (PostgreSQL refuses to run as root). Stopped and deleted afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(directory, nobody.pw_uid, nobody.pw_gid)
        as_user = ["runuser", "-u", "nobody", "--"]
    data, port = directory / "data", free_port()
    server: subprocess.Popen[bytes] | None = None
    stack = contextlib.ExitStack()
    try:
        subprocess.run([*as_user, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True, cwd=directory)
        log = stack.enter_context(open(directory / "postgres.log", "wb"))
        server = subprocess.Popen([*as_user, str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port),
                                   "-k", str(directory), "-c", "listen_addresses=127.0.0.1"],
                                  stdout=log, stderr=log, cwd=directory)
        for _ in range(100):
            ready = subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                                   capture_output=True)
            if ready.returncode == 0:
                break
            if server.poll() is not None:
                raise RuntimeError((directory / "postgres.log").read_text())
            time.sleep(0.1)
        else:
            raise RuntimeError("PostgreSQL did not start in 10 s")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        stack.close()
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", help="PostgreSQL for the library's recorder (default: start a throwaway one)")
    parser.add_argument("--quick", action="store_true", help="a tenth of every count (a smoke run)")
    parser.add_argument("--skip-sqlite", action="store_true", help="leave out the library's SQLite recorder")
    parser.add_argument("--payload", choices=("repeated", "varied"), default="repeated",
                        help="each event's note: one sentence repeated (the default), or words drawn at random")
    args = parser.parse_args()
    PAYLOAD["kind"] = args.payload
    sizes = Sizes(args.quick)
    with contextlib.ExitStack() as stack:
        postgres = args.postgres_url or stack.enter_context(throwaway_postgres())
        infra = stack.enter_context(provide(REPO / ".run" / f"bench-{uuid.uuid4().hex[:8]}"))
        print(json.dumps({"bench": "event_store", "payload": args.payload, "setup": {"mongodb": redacted(infra.mongodb),
                                                             "postgres": postgres if args.postgres_url
                                                             else "throwaway PostgreSQL 15 (default settings)"}}),
              flush=True)
        asyncio.run(interleaved(bench_binhchon(infra.mongodb, sizes), bench_library_postgres(postgres, sizes)))
        if not args.skip_sqlite:
            bench_library_sqlite(sizes)


if __name__ == "__main__":
    main()
