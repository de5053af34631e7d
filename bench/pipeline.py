"""Benchmark: the whole pipeline, N dossiers × 7 judges, from submission to certificates issued and mails received,
read against the raw ceilings of the same broker and store in the same run.

    uv run python bench/pipeline.py [--dossiers 1000] [--concurrency 32] [--paced-rate 20] [--paced-dossiers 200]

The system is the fault suite's (tests/faults/system.py, ADR 0041): a broker and a FerretDB-on-PostgreSQL of its
own, the four services as processes started from their console scripts, a mail catcher. Its rounds and panels are
set up by the fault suite's Flow; then each dossier goes its own way, ``--concurrency`` at once: submitted by its
producer, accepted by the secretariat, scored by the seven members of its district's council one after the other
once scoring.opened for it is on scoring's topic, as a judge is told (a sheet posted before that is refused 403:
scoring cannot know the caller sits on the panel of a dossier it has not heard of; after 120 s without it the
judges post anyway and a 403 is asked again). Each district's council sits
continuously: its chair proposes whatever has completed, its authority approves it, and again; certification
issues a certificate for each recognised result (every target here is recognised) and notify mails.

Two phases on the same system:
- ``saturated``: all N dossiers at once (``--concurrency`` in flight): dossiers/s end to end, from the first
  submit to the last certificate and the last mail;
- ``paced``: ``--paced-dossiers`` dossiers arriving at ``--paced-rate`` per second (half the goal's 40/s):
  submit→certificate p50/p99 at that load, and ``stages_ms``: that time cut into its stages (STAGES) from the
  events' own times on the topics and the bench's, p50/p99 each, to show where a dossier waits.
Then the ceilings: aiokafka produce→consume of records of the pipeline's mean event size on the same broker (the
services' producer settings), and raw ``insert_one`` on the same store at concurrency 1 and 8
(bench/intake_submit.py's). Store writes are PostgreSQL's own count of rows inserted, updated and deleted under
FerretDB during the saturated phase, also per collection (``store_writes_by_collection``, the
``--writes-top`` that wrote most, 15 by default), with the sequential scans and the rows they read per collection
(``store_seq_scans``), and, from PostgreSQL's pg_stat_statements (loaded in the bench's own cluster only), the
``--statements`` top statements by time and by calls per dossier, their tables named by collection
(``store_statements``, bench/_store_statements.py).

``ceilings_dossiers_per_s`` says what this design could reach here at best, from the same run: the raw insert
rate over the store writes one dossier needs, and the cores over the CPU seconds one dossier costs (ADR 0057).

The line gives CPU seconds per dossier per service over the saturated phase (``cpu_s_per_dossier``: a measure
the machine's load barely distorts, unlike wall time; ``store`` beside them is FerretDB's and PostgreSQL's, outside
the services' ``total``; ``store_ferretdb`` its FerretDB part), their CPU per second with no traffic for ``--idle``
seconds before it, and with ``--profile`` the top frames (self and cumulative) of each service's samples.

One JSON line, printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

REPO = Path(__file__).resolve().parents[1]
# the fault suite's package as `faults`, from tests/: under pytest, `tests` is already some service's tests package
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]

import _store_statements as store_statements  # noqa: E402
from faults.checker import consumer_lag  # noqa: E402
from faults.flow import DISTRICTS, Flow  # noqa: E402
from faults.system import SERVICES, System  # noqa: E402
from intake_submit import percentile, raw_inserts  # noqa: E402

from binhchon_kit.envelope import CloudEvent  # noqa: E402
from binhchon_kit.relay import make_producer  # noqa: E402
from binhchon_kit.topics import all_topics  # noqa: E402
from binhchon_kit.vietnam_time import today_in_vietnam  # noqa: E402
from binhchon_tools.scenario import Producer, producer_body, sheet  # noqa: E402
from notify.views import DUE_KEY, instant  # noqa: E402

# council means cycled: every one recognised with 3 stars by its district, so each dossier earns a certificate
TARGETS = (66, 64, 61, 57, 55, 53, 52)
JUDGES = 7
GOAL = 40.0  # dossiers/s (issue 14)


@dataclass
class Timings:
    """Milliseconds per endpoint, and when each dossier was submitted and certified."""

    http: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    submitted: dict[str, float] = field(default_factory=dict)
    certified: dict[str, float] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    lost: int = 0  # dossiers whose receipt was lost to a cut connection
    opened: dict[str, asyncio.Event] = field(default_factory=dict)  # scoring.opened seen on scoring's topic
    # per dossier, the wall time (epoch s) of each mark on its way: the events' own times on the topics, the
    # bench's submit and when it read scoring.opened and certificate.issued (STAGES)
    marks: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))


# a dossier's way from submit to certificate, as (stage, from mark, to mark): the events' own times (their
# service's clock) and the bench's; sheets: the first score.submitted to the seventh, the judges one after another
STAGES = (
    ("submit", "submit", "dossier.received"),  # the submit call up to its event's time
    ("accept", "dossier.received", "dossier.accepted"),  # the rest of the submit call, then the accept call
    ("open", "dossier.accepted", "scoring.opened"),  # intake's relay, scoring's consumer
    ("told", "scoring.opened", "opened_read"),  # scoring's relay, the bench reading its topic
    ("first_sheet", "opened_read", "sheet_1"),  # the first judge's call
    ("sheets", "sheet_1", f"sheet_{JUDGES}"),  # the other six judges, one after another
    ("complete", f"sheet_{JUDGES}", "scoring.completed"),
    ("propose", "scoring.completed", "result.proposed"),  # the council's session cadence, its propose call
    ("approve", "result.proposed", "result.approved"),  # the approve call
    ("certify", "result.approved", "certificate.issued"),  # scoring's relay, certification's consumer
    ("certified_read", "certificate.issued", "certified_read"),  # certification's relay, the bench reading it
)


class Pipeline:
    """The asynchronous driver: each dossier its own task; each district's council a loop of sessions."""

    def __init__(self, system: System, flow: Flow, panels: dict[str, list[str]], full: dict[str, int]) -> None:
        self.system, self.flow, self.panels, self.full = system, flow, panels, full
        self.t = Timings()
        self.tokens: dict[tuple[Any, ...], dict[str, str]] = {}
        self.clients = {s: httpx.AsyncClient(base_url=system.url(s), timeout=60,
                                             limits=httpx.Limits(max_connections=256, max_keepalive_connections=256))
                        for s in SERVICES}
        self.completed: dict[str, set[str]] = {name: set() for _, name in DISTRICTS}
        # set when a dossier of the district completes: its council sits at once, not on a timer of its own
        self.ready: dict[str, asyncio.Event] = {name: asyncio.Event() for _, name in DISTRICTS}
        self.decisions = 0

    def auth(self, subject: str, *roles: str, authorities: tuple[str, ...] = ()) -> dict[str, str]:
        key = (subject, roles, authorities)
        if key not in self.tokens:
            self.tokens[key] = self.flow.auth(subject, *roles, authorities=authorities)
        return self.tokens[key]

    async def call(self, endpoint: str, service: str, method: str, path: str, headers: dict[str, str],
                   json_body: Any = None, until_open: bool = False) -> Any:
        """One call, timed under ``endpoint``; a lost race for a stream's version (409 with ``current_version``),
        a 5xx and, when asked, a 404 or 403 (scoring has not opened the dossier yet, so its panel is
        unknown) are asked again."""
        while True:
            started = time.perf_counter()
            try:
                r = await self.clients[service].request(method, path, headers=headers, json=json_body)
            except httpx.TransportError:  # a kept-alive connection the server closed as it was reused
                self.t.statuses[0] += 1
                await asyncio.sleep(0.05)
                continue
            self.t.http[endpoint].append((time.perf_counter() - started) * 1000)
            self.t.statuses[r.status_code] += 1
            if r.status_code < 300:
                return r.json()
            if r.status_code == 409 and '"duplicate"' in r.text and self.t.statuses[0]:
                return None  # a submit asked again after a cut connection: the first attempt was recorded
            if r.status_code >= 500 or (r.status_code == 409 and "current_version" in r.text) or \
                    (until_open and r.status_code in (403, 404)):
                await asyncio.sleep(0.25 if until_open else 0.05)  # not to flood scoring while it opens it
                continue
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")

    async def dossier(self, i: int) -> None:
        code, name = DISTRICTS[i % len(DISTRICTS)]
        target = TARGETS[i % len(TARGETS)]
        p = Producer(f"Hợp tác xã số {i}", "cooperative", "Xã Đông Hưng", f"Người đại diện {i}",
                     f"Sản phẩm {i} của {self.flow.run}", "thực phẩm", target)
        body = producer_body(p, (code, name), i, self.flow.run)
        body["producer"]["contact"]["email"] = f"p{i}.{self.flow.run.lower()}@example.vn"
        started, submitted_at = time.perf_counter(), time.time()
        receipt = await self.call("submit", "intake", "POST", f"/rounds/{self.flow.rounds[name]}/dossiers",
                                  self.auth(f"producer-{i}", "applicant"), body)
        if receipt is None:
            self.t.lost += 1  # its id went with the cut answer: not followed (the line says how many)
            return
        dossier = receipt["dossier_id"]
        self.t.submitted[dossier] = started
        self.t.marks[dossier]["submit"] = submitted_at
        await self.call("accept", "intake", "POST", f"/dossiers/{dossier}/accept", self.flow.sec,
                        {"product_group": "thực phẩm", "sample_code": f"OCOP-{i:05d}"})
        # a judge scores once told the dossier is open (scoring.opened): scoring answers 403 to a sheet for a
        # dossier it has not heard of yet, since it cannot know the caller sits on its panel
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.opened(dossier).wait(), 120)
        members = self.panels[name]
        for k, member in enumerate(members):
            headers = self.auth(member, "council_chair" if k == 0 else "judge")
            await self.call("score-sheet", "scoring", "POST", f"/dossiers/{dossier}/score-sheets", headers,
                            {"scores": sheet(self.full, target + (k % 3) - 1)}, until_open=True)
        self.completed[name].add(dossier)
        self.ready[name].set()

    async def council(self, code: str, name: str, stop: asyncio.Event) -> None:
        """Sessions one after another: propose what has completed, approve it (one decision per proposal); with
        nothing completed, the council waits for the next dossier to complete (``ready``), not for a timer."""
        chair = self.panels[name][0]
        approver = self.auth(f"ubnd-{chair}", "approver", authorities=(f"district:{code}",))
        while not (stop.is_set() and not self.completed[name]):
            if not self.completed[name]:
                self.ready[name].clear()  # nothing awaited between the check and the clear: no wake-up is lost
                with contextlib.suppress(TimeoutError):  # the phase's end (stop) looked at twice a second
                    await asyncio.wait_for(self.ready[name].wait(), 0.5)
                continue
            proposal = await self.call("propose", "scoring", "POST", f"/rounds/{self.flow.rounds[name]}/proposals",
                                       self.auth(chair, "council_chair"))
            self.decisions += 1
            number = f"{self.flow.run}-{code}-{self.decisions}/QĐ-UBND"
            decision = {"number": number, "date": today_in_vietnam().isoformat(), "signer": "Phó Chủ tịch UBND",
                        "authority": f"UBND {name.lower()}"}
            await self.call("approve", "scoring", "POST", f"/proposals/{proposal['proposal_id']}/approval", approver,
                            {"decision": decision})
            self.completed[name] -= {row["dossier_id"] for row in proposal["rows"]}

    def mark(self, event: CloudEvent) -> None:
        """The event's own time as a mark of the dossier(s) it concerns (the first, if it came twice)."""
        at = datetime.fromisoformat(event.time).timestamp()
        if event.type == "result.proposed":
            for row in event.data["rows"]:
                self.t.marks[str(row["dossier_id"])].setdefault(event.type, at)
        elif event.type == "score.submitted":
            marks = self.t.marks[str(event.subject)]
            marks.setdefault(f"sheet_{sum(k.startswith('sheet_') for k in marks) + 1}", at)
        else:
            self.t.marks[str(event.data.get("dossier_id", event.subject))].setdefault(event.type, at)

    def stages(self) -> dict[str, dict[str, float]]:
        """p50/p99 (ms) of each stage (STAGES) over the dossiers that were followed, and the share of the
        submit→certificate time each takes at p50."""
        spans: dict[str, list[float]] = {}
        for stage, start, end in STAGES:
            spans[stage] = [(m[end] - m[start]) * 1000 for d in self.t.submitted
                            if start in (m := self.t.marks[d]) and end in m]
        return {stage: {"n": len(v), "p50": round(percentile(v, 0.5)), "p99": round(percentile(v, 0.99))}
                for stage, v in spans.items() if v}

    def opened(self, dossier: str) -> asyncio.Event:
        return self.t.opened.setdefault(dossier, asyncio.Event())

    async def mails_to_come(self) -> bool:
        """Whether notify still has a mail to send: an email delivery due now (its ``due_key`` index, ADR 0054) or an
        event of a topic it reads not yet committed by its group."""
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.system.mongodb)
        try:
            due = await client[self.system.databases["notify"]]["deliveries"].find(
                {DUE_KEY: {"$lt": f"{instant(datetime.now(UTC))}}}"}, "channel": "email"}, projection={"_id": 1},
                limit=1).to_list()
        finally:
            await client.close()
        if due:
            return True
        lag = await consumer_lag(self.system)
        return any(n > 0 for where, n in lag.items() if where.startswith("notify."))

    async def certificates(self, stop: asyncio.Event, ready: asyncio.Event) -> None:
        """scoring.opened and certificate.issued read off scoring's and certification's topics as they are
        published: when each dossier may be scored, and when it was certified; with intake's, every event's own
        time as a mark of its dossier's way (``stages``). What the topics held when the phase began (``ready``, set
        before its first submit) is passed over undecoded: the earlier phase's thousands of events are no dossier
        of this one, and decoding them all held the first dossiers' scoring.opened behind them."""
        topics = [f"{self.system.prefix}{s}.events" for s in ("intake", "scoring", "certification")]
        consumer = AIOKafkaConsumer(*topics,
                                    group_id=None, auto_offset_reset="earliest",
                                    bootstrap_servers=self.system.bootstrap, **self.system.client())
        await consumer.start()
        try:
            parts = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
            before = await consumer.end_offsets(parts)
            ready.set()
            while not stop.is_set():
                for part, records in (await consumer.getmany(timeout_ms=100)).items():
                    now, wall = time.perf_counter(), time.time()
                    for record in records:
                        if record.offset < before.get(part, 0):
                            continue
                        event = CloudEvent.from_bytes(record.value)
                        if event.type == "certificate.issued":
                            self.t.certified.setdefault(str(event.data["dossier_id"]), now)
                            self.t.marks[str(event.data["dossier_id"])].setdefault("certified_read", wall)
                        elif event.type == "scoring.opened":
                            self.opened(str(event.subject)).set()
                            self.t.marks[str(event.subject)].setdefault("opened_read", wall)
                        self.mark(event)
        finally:
            await consumer.stop()

    async def phase(self, first: int, count: int, concurrency: int, rate: float | None) -> dict[str, Any]:
        """``count`` dossiers, at most ``concurrency`` in flight, arriving at ``rate`` per second if given; until
        every one is certified and the mail catcher has been quiet for 5 s."""
        self.t = Timings()
        stop, done = asyncio.Event(), asyncio.Event()
        reading = asyncio.Event()
        reader = asyncio.create_task(self.certificates(stop, reading))
        councils = [asyncio.create_task(self.council(code, name, done)) for code, name in DISTRICTS]
        gate = asyncio.Semaphore(concurrency)
        mails_before = len(self.system.catcher.caught())

        async def one(i: int) -> None:
            async with gate:
                await self.dossier(i)

        await asyncio.wait([reader, asyncio.ensure_future(reading.wait())], return_when=asyncio.FIRST_COMPLETED)
        if reader.done():
            await reader  # the reader failed to start: its error, not a phase waiting for events it never reads
        began = time.perf_counter()
        tasks = []
        for n, i in enumerate(range(first, first + count)):
            if rate:
                await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        scored = time.perf_counter() - began
        while len(self.t.certified.keys() & self.t.submitted.keys()) < len(self.t.submitted):  # noqa: ASYNC110 (another task's)
            await asyncio.sleep(0.05)
        certified = max(self.t.certified[d] for d in self.t.submitted)
        last_mail, seen = time.perf_counter(), len(self.system.catcher.caught())
        # the last mail: none for 5 s, and none left to send (a pass of notify's can outlast 5 s under a backlog),
        # notify's store and groups asked at most once a second, not on every look at the catcher
        asked = 0.0
        while True:
            if time.perf_counter() - last_mail >= 5 and time.perf_counter() - asked >= 1:
                asked = time.perf_counter()
                if not await self.mails_to_come():
                    break
            await asyncio.sleep(0.1)
            if (now := len(self.system.catcher.caught())) != seen:
                last_mail, seen = time.perf_counter(), now
        done.set()
        stop.set()
        await asyncio.gather(reader, *councils)
        end = max(certified, last_mail if seen > mails_before else 0)
        latencies = [(self.t.certified[d] - s) * 1000 for d, s in self.t.submitted.items()]
        return {"dossiers": count, "seconds": round(end - began, 2), "dossiers_per_s": round(count / (end - began), 2),
                "scored_s": round(scored, 2), "certified_s": round(certified - began, 2),
                "mails": seen - mails_before, "receipts_lost_to_cut_connections": self.t.lost,
                "submit_to_certificate_ms": {"p50": round(percentile(latencies, 0.5)),
                                             "p99": round(percentile(latencies, 0.99)),
                                             "max": round(max(latencies))},
                "stages_ms": self.stages(),
                "http_ms": {e: {"n": len(v), "p50": round(percentile(v, 0.5), 1), "p99": round(percentile(v, 0.99), 1)}
                            for e, v in sorted(self.t.http.items())},
                "statuses": dict(sorted(self.t.statuses.items()))}  # 0: cut connections

    async def close(self) -> None:
        for c in self.clients.values():
            await c.aclose()


# ---- what the machine gives ----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds one process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_usage(pid: int) -> dict[str, float]:
    """Peak RSS (the kernel's high-water mark) and CPU seconds of one process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    peak_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    return {"peak_rss_mib": round(peak_kib / 1024, 1), "cpu_s": round(cpu_seconds(pid), 1)}


def services_cpu(system: System) -> dict[str, float]:
    ferretdb = cpu_seconds(int((system.store.dir / "ferretdb.pid").read_text().strip()))
    return {**{s: cpu_seconds(system.processes[(s, 0)].pid) for s in SERVICES}, "store": store_cpu(system),
            "store_ferretdb": ferretdb}


def store_cpu(system: System) -> float:
    """CPU seconds of the store so far: FerretDB, and PostgreSQL's postmaster with its backends (those still alive,
    and those that ended, which the kernel adds to the postmaster's children's time)."""
    ferretdb = int((system.store.dir / "ferretdb.pid").read_text().strip())
    postmaster = int((system.store.postgres.dir / "data" / "postmaster.pid").read_text().splitlines()[0])
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    backends = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                backends += cpu_seconds(int(stat.parent.name))
    return cpu_seconds(ferretdb) + cpu_seconds(postmaster) + reaped + backends


def cpu_spent(before: dict[str, float], after: dict[str, float], per: float) -> dict[str, float]:
    """CPU seconds each service (and the store: FerretDB and PostgreSQL) spent between two readings, divided by
    ``per``, and the services' total: a measure the machine's load barely distorts, unlike wall time.
    ``store_ferretdb`` is FerretDB's part of ``store`` (the rest is PostgreSQL's)."""
    spent = {s: (after[s] - before[s]) / per for s in before}
    return {**{s: round(v, 4) for s, v in spent.items()},
            "total": round(sum(v for s, v in spent.items() if not s.startswith("store")), 4)}


FRAME = re.compile(r"^(.*) \((?:.*/)?([^/:]*)(?::\d+)?\)$")


OWN = re.compile(r"[ (/](binhchon_kit|intake|scoring|certification|notify)/[^ ]*\.py")
IDLE = ("EpollSelector.select ", "Condition.wait ", "_worker (thread.py)")


def top_frames(path: Path, n: int = 10) -> dict[str, Any]:
    """The ``n`` frames with most samples of a py-spy raw (collapsed) profile: by self (the innermost frame) and
    cumulative (the project's own functions anywhere on the stack, once per sample), as shares of the busy
    samples (a thread waiting in the event loop's select or a worker pool's queue is counted apart)."""
    own: dict[str, int] = defaultdict(int)
    cumulative: dict[str, int] = defaultdict(int)
    total = 0
    idle = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [FRAME.sub(r"\1 (\2)", f) for f in stack.split(";")]  # "fn (file.py)": lines apart
        if frames[-1].startswith(IDLE):  # py-spy --nonblocking samples a thread waiting for work too
            idle += int(count)
            continue
        total += int(count)
        own[frames[-1]] += int(count)
        # cumulative: the project's own frames (the event loop's and the frameworks' hold every sample)
        for frame in {f for f, raw in zip(frames, stack.split(";"), strict=True) if OWN.search(raw)}:
            cumulative[frame] += int(count)

    def best(counts: dict[str, int]) -> list[tuple[str, float]]:
        return [(f, round(c / max(total, 1), 3)) for f, c in sorted(counts.items(), key=lambda x: -x[1])[:n]]

    return {"samples": total, "idle_samples": idle, "self": best(own), "cumulative": best(cumulative)}


def writes_between(spent: dict[str, dict[str, int]], top: int = 15) -> tuple[int, dict[str, int]]:
    """All rows written between two readings, and the ``top`` collections that wrote most of them."""
    written = {name: c["written"] for name, c in spent.items() if c["written"]}
    return sum(written.values()), dict(sorted(written.items(), key=lambda x: -x[1])[:top])


async def events_on_topics(system: System) -> tuple[int, float]:
    """How many records the four services' event topics hold, and their mean size in bytes."""
    topics = [t for t in all_topics(system.prefix) if t.endswith(".events")]
    consumer = AIOKafkaConsumer(*topics, group_id=None, auto_offset_reset="earliest",
                                bootstrap_servers=system.bootstrap, **system.client())
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        ends = await consumer.end_offsets(parts)
        total, size, read = sum(ends.values()), 0, 0
        while read < total:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                read += len(records)
                size += sum(len(r.value or b"") + sum(len(v) for _, v in r.headers) for r in records)
        return total, size / max(total, 1)
    finally:
        await consumer.stop()


async def raw_kafka(system: System, count: int, size: int) -> float:
    """Records of ``size`` bytes produced (the services' producer settings) and consumed on a fresh topic of the
    same broker, at once: records per second from the first send to the last read."""
    topic = f"{system.prefix}raw-ceiling"
    admin = AIOKafkaAdminClient(bootstrap_servers=system.bootstrap, **system.client())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    producer = make_producer(system.bootstrap, "raw-ceiling", system.client())
    consumer = AIOKafkaConsumer(topic, group_id=None, auto_offset_reset="earliest",
                                bootstrap_servers=system.bootstrap, **system.client())
    await producer.start()
    await consumer.start()
    payload = b"x" * size
    try:
        began = time.perf_counter()

        async def produce() -> None:
            pending = [await producer.send(topic, payload, key=str(n % 512).encode()) for n in range(count)]
            await asyncio.gather(*pending)

        sending = asyncio.create_task(produce())
        read = 0
        while read < count:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                read += len(records)
        seconds = time.perf_counter() - began
        await sending
        return count / seconds
    finally:
        await producer.stop()
        await consumer.stop()


@contextlib.contextmanager
def profiled(system: System, directory: Path | None) -> Iterator[None]:
    """py-spy sampling each service for the saturated phase, into ``directory``/<service>.txt (collapsed stacks;
    run the bench under ``uv run --with py-spy``)."""
    if directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    spies = [subprocess.Popen([shutil.which("py-spy") or "py-spy", "record", "--nonblocking", "--rate", "50",
                               "--format", "raw", "--output", str(directory / f"{s}.txt"), "--pid",
                               str(system.processes[(s, 0)].pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for s in SERVICES]
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled when interrupted
        for spy in spies:
            spy.wait(60)


async def bench(system: System, args: argparse.Namespace) -> dict[str, Any]:
    flow = Flow(system, n=0, concurrency=4)
    flow.open_rounds()
    panels = {name: flow.form_panel(name, f"hd-{code}") for code, name in DISTRICTS}
    rulebook = flow.call("scoring", "GET", "/rulebooks/ocop-2023", headers={})
    full = {c["code"]: c["maximum"] for c in rulebook["sheets"][0]["criteria"]}
    flow.close()
    pipeline = Pipeline(system, flow, panels, full)
    try:
        events_before = (await events_on_topics(system))[0]
        tables_before = store_statements.tables(system)
        idle = None
        if args.idle:  # what the services burn with nothing to do: pollers, timers
            await asyncio.sleep(5)  # the set-up's last events relayed and consumed
            cpu = services_cpu(system)
            await asyncio.sleep(args.idle)
            idle = cpu_spent(cpu, services_cpu(system), args.idle)
        cpu = services_cpu(system)
        if args.statements:
            store_statements.reset(system)
        with profiled(system, args.profile):
            saturated = await pipeline.phase(0, args.dossiers, args.concurrency, None)
        cpu_per_dossier = cpu_spent(cpu, services_cpu(system), args.dossiers)
        await asyncio.sleep(1.5)  # PostgreSQL flushes a backend's statistics at most once a second
        names = store_statements.table_names(system)
        spent = store_statements.between(tables_before, store_statements.tables(system), names)
        rows, rows_by_collection = writes_between(spent, args.writes_top)
        scans = store_statements.scans(spent, args.dossiers, args.writes_top)
        statements = store_statements.statements(system, names, args.dossiers, args.statements) \
            if args.statements else None
        events, event_size = await events_on_topics(system)
        events -= events_before
        waits = await notify_waits(system, args.dossiers)
        usage = {s: process_usage(system.processes[(s, 0)].pid) for s in SERVICES}
        paced = await pipeline.phase(args.dossiers, args.paced_dossiers, args.concurrency, args.paced_rate) \
            if args.paced_dossiers else None
    finally:
        await pipeline.close()
    raw_kafka_per_s = await raw_kafka(system, args.raw_records, round(event_size))
    with contextlib.redirect_stdout(sys.stderr):  # intake_submit's own lines are not this bench's
        raw_insert = {c: await raw_inserts(system.mongodb, args.raw_inserts, c) for c in (1, 8)}
    seconds = saturated["seconds"]
    events_per_s, writes_per_s = events / seconds, rows / seconds
    best_insert = max(raw_insert.values())
    return {
        "bench": "pipeline", "dossiers": args.dossiers, "judges": JUDGES, "concurrency": args.concurrency,
        "dossiers_per_s": saturated["dossiers_per_s"], "goal_dossiers_per_s": GOAL,
        "events": events, "events_per_s": round(events_per_s, 1), "event_bytes_mean": round(event_size),
        "store_writes": rows, "store_writes_per_s": round(writes_per_s, 1),
        "store_writes_per_dossier": round(rows / args.dossiers, 1), "store_writes_by_collection": rows_by_collection,
        "store_seq_scans": scans, "store_statements": statements,
        "raw_kafka_per_s": round(raw_kafka_per_s, 1),
        "raw_insert_per_s": {f"c{c}": round(v, 1) for c, v in raw_insert.items()},
        "events_per_s_over_raw_kafka": round(events_per_s / raw_kafka_per_s, 3),
        "store_writes_over_raw_insert": round(writes_per_s / best_insert, 3),
        "ceilings_dossiers_per_s": ceilings(best_insert, rows / args.dossiers, cpu_per_dossier),
        "saturated": saturated, "paced": paced and {"rate": args.paced_rate, **paced},
        "profile": args.profile and {s: top_frames(args.profile / f"{s}.txt") for s in SERVICES
                                     if (args.profile / f"{s}.txt").exists()},
        "cpu_s_per_dossier": cpu_per_dossier, "idle_cpu_s_per_s": idle, "notify_waits": waits,
        "services": usage, "loadavg": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count(),
    }


async def notify_waits(system: System, dossiers: int) -> dict[str, Any]:
    """What made notify park events (ADR 0006) in the saturated phase: per event type, how many waited per
    dossier, for which facts, with how many tries and pokes on average; each park costs its own writes."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(system.mongodb)
    try:
        parked = await client[system.databases["notify"]]["parked"].find(
            {}, projection={"type": 1, "needs": 1, "tries": 1, "pokes": 1}).to_list()
    finally:
        await client.close()
    by_type: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "tries": 0, "pokes": 0, "needs": defaultdict(int)})
    for doc in parked:
        kind = by_type[str(doc.get("type"))]
        kind["n"] += 1
        kind["tries"] += int(doc.get("tries") or 0)
        kind["pokes"] += int(doc.get("pokes") or 0)
        for need in doc.get("needs") or []:
            kind["needs"][str(need).split(":", 1)[0]] += 1
    return {"parked_per_dossier": round(len(parked) / dossiers, 2), "by_type": {
        t: {"per_dossier": round(k["n"] / dossiers, 2), "tries_mean": round(k["tries"] / k["n"], 2),
            "pokes_mean": round(k["pokes"] / k["n"], 2), "needs": dict(k["needs"])}
        for t, k in sorted(by_type.items(), key=lambda item: -item[1]["n"])}}


def ceilings(best_insert: float, writes_per_dossier: float, cpu_per_dossier: dict[str, float]) -> dict[str, float]:
    """What this design could do on this machine at best, from the same run: ``store_writes``, the store's raw
    ``insert_one`` rate over the writes one dossier needs (the store doing nothing but those writes, each as cheap
    as a plain insert); ``cpu``, the machine's cores over the CPU seconds one dossier costs the services and the
    store together (every core busy with nothing else). The goal is out of reach while either is below it."""
    spent = cpu_per_dossier.get("total", 0.0) + cpu_per_dossier.get("store", 0.0)
    return {"store_writes": round(best_insert / writes_per_dossier, 1) if writes_per_dossier else 0.0,
            "cpu": round((os.cpu_count() or 1) / spent, 1) if spent else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32, help="dossiers in flight at once")
    parser.add_argument("--paced-rate", type=float, default=GOAL / 2, help="dossiers/s of the paced phase")
    parser.add_argument("--paced-dossiers", type=int, default=200, help="0: no paced phase")
    parser.add_argument("--raw-records", type=int, default=20000, help="records of the Kafka ceiling")
    parser.add_argument("--raw-inserts", type=int, default=2000, help="documents of each insert_one ceiling")
    parser.add_argument("--profile", type=Path, help="py-spy the services during the saturated phase, into this dir")
    parser.add_argument("--idle", type=float, default=30, help="seconds of CPU measured with no traffic (0: none)")
    parser.add_argument("--writes-top", type=int, default=15, help="collections in store_writes_by_collection")
    parser.add_argument("--statements", type=int, default=12,
                        help="top statements by time and by calls, from pg_stat_statements (0: not loaded)")
    parser.add_argument("--workdir", type=Path, default=REPO / ".run" / f"pipeline-{uuid.uuid4().hex[:6]}")
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    if args.statements:  # read by infra/local/postgres.sh as the store's PostgreSQL starts
        os.environ["BINHCHON_PG_SETTINGS"] = store_statements.SETTINGS
    system = System(args.workdir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout's TERM still stops the system's processes
    try:
        system.start()
        if args.statements:
            store_statements.enable(system)
        line = asyncio.run(bench(system, args))
    finally:
        system.stop()
    shutil.rmtree(args.workdir, ignore_errors=True)  # a failed run's logs and data stay for a look
    print(json.dumps({**line, "loadavg_before": load_before}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
