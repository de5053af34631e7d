"""What must hold after any fault: read from the topics (as the auditor), the stores and the mail catcher.

``gather`` collects the evidence from a running System; ``check`` is a pure function of it, so a unit test can
hand it a broken history and see each violation named (tests/faults/test_checker.py). The invariants:

- every event in a service's store is on its topic exactly once (by event id), and every event on a topic is
  in its service's store;
- one certificate per recognised result, and no certificate number twice;
- every mail an event calls for made once (a delivery in notify's store), sent, and caught exactly once: no mail
  lost, none twice for the same recipient and the same event and kind;
- receipt numbers gap-free within each round;
- every dead letter carries its headers, and every consumer group went on past it (no lag left);
- each service's log (the Merkle tree its signed checkpoints cover, ``merkle_leaves``) is whole: leaves 0 to n-1
  without a hole, no event twice, each a stored event (a hole stops every later checkpoint being signed).

Records a test put on a topic itself (copies, poison) are named in ``injected`` and left out of the first
invariant: they are the fault, not the system's history.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import MongoClient

from binhchon_kit.checkpoints import LEAVES
from binhchon_kit.principals import AUDITOR

if TYPE_CHECKING:
    from .system import System

SERVICES = ("intake", "scoring", "certification", "notify")
CHECKPOINTS = "log.checkpoints"
DLQ_HEADERS = ("dlq-reason", "dlq-handler", "dlq-source-topic", "dlq-source-partition", "dlq-source-offset",
               "dlq-at")
# events notify tells the producer of, one mail each (notify.domain.messages.PRODUCER_EVENTS)
PRODUCER_MAILS = {"dossier.received", "dossier.supplement_requested", "dossier.accepted", "dossier.rejected",
                  "dossier.rescheduled", "result.approved", "result.not_recognised", "certificate.issued",
                  "certificate.expiring", "certificate.expired", "certificate.revoked"}


@dataclass(frozen=True)
class Record:
    """One record of a topic, as far as the checker cares."""

    topic: str  # without the run's prefix: ``intake.events``
    partition: int
    offset: int
    event: dict[str, Any] | None  # the CloudEvent, None if the value is not a JSON object
    headers: dict[str, str] = field(default_factory=dict)
    key: bytes | None = field(default=None, compare=False)
    value: bytes = field(default=b"", compare=False, repr=False)
    raw_headers: tuple[tuple[str, bytes], ...] = field(default=(), compare=False, repr=False)

    @property
    def id(self) -> str | None:
        return None if self.event is None else self.event.get("id")

    @property
    def type(self) -> str | None:
        return None if self.event is None else self.event.get("type")

    @property
    def data(self) -> dict[str, Any]:
        data = (self.event or {}).get("data")
        return data if isinstance(data, dict) else {}


@dataclass
class Evidence:
    topics: dict[str, list[Record]]  # ``intake.events`` → its records; ``…​.dlq`` too
    stores: dict[str, list[str]]  # service → the event ids in its store, one per stored event
    deliveries: list[dict[str, Any]]  # notify's email deliveries: _id, about_event_id, template, status, address
    mails: list[tuple[str, str]]  # (recipient, message id) per mail caught
    lag: dict[str, int] = field(default_factory=dict)  # "group topic[partition]" → records not yet consumed
    injected: set[tuple[str, int, int]] = field(default_factory=set)  # (topic, partition, offset) a test wrote
    leaves: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # service → (leaf index, event id)

    def events(self, topic: str) -> list[Record]:
        return [r for r in self.topics.get(topic, []) if (r.topic, r.partition, r.offset) not in self.injected
                and r.id is not None]


def check(ev: Evidence, *, duplicate_mails_allowed: int = 0) -> list[str]:
    """Every violation found, in words naming what is wrong (empty: all invariants hold).
    ``duplicate_mails_allowed``: a crash between the mail server's acceptance and notify's record of it may send
    that one message again (README, notify): as many as the test killed notify mid-send."""
    return [*_stores_equal_topics(ev), *_certificates(ev), *_receipts(ev), *_mails(ev, duplicate_mails_allowed),
            *_dead_letters(ev), *_logs_whole(ev)]


def _logs_whole(ev: Evidence) -> list[str]:
    out = []
    for service, leaves in ev.leaves.items():
        indexes = sorted(i for i, _ in leaves)
        holes = sorted(set(range(indexes[-1] + 1)) - set(indexes)) if indexes else []
        if holes:
            out.append(f"{service}: its log has no leaf {holes[0]} ({len(holes)} missing of {indexes[-1] + 1}): "
                       "no checkpoint can be signed past it")
        events = Counter(e for _, e in leaves)
        out += [f"{service}: event {e} is {n} leaves of its log" for e, n in events.items() if n > 1]
        stored = set(ev.stores.get(service, []))
        out += [f"{service}: leaf for event {e}, which is not stored" for e in events if e not in stored]
    return out


def _stores_equal_topics(ev: Evidence) -> list[str]:
    """Each service's store against its topic; its log checkpoints (stored like its events) go to the one
    ``log.checkpoints`` topic every service shares, so they are matched there, by id."""
    out = []
    checkpoints = Counter(r.id for r in ev.events(CHECKPOINTS))
    for service in SERVICES:
        stored = Counter(ev.stores.get(service, []))
        on_topic = Counter(r.id for r in ev.events(f"{service}.events"))
        on_topic.update({i: n for i, n in checkpoints.items() if i in stored})
        out += [f"{service}: event {i} stored {n} times" for i, n in stored.items() if n > 1]
        out += [f"{service}: event {i} on its topic {n} times" for i, n in on_topic.items() if n > 1]
        out += [f"{service}: event {i} stored but not on its topic" for i in stored if i not in on_topic]
        out += [f"{service}: event {i} on {service}.events but not stored" for i in on_topic if i not in stored]
    everywhere = {i for ids in ev.stores.values() for i in ids}
    out += [f"checkpoint {i} on {CHECKPOINTS} but in no store" for i in checkpoints if i not in everywhere]
    return out


def _certificates(ev: Evidence) -> list[str]:
    recognised = {r.id for r in ev.events("scoring.events")
                  if r.type == "result.approved" and (r.data.get("rating") or {}).get("recognised")}
    issued: dict[str, set[str]] = defaultdict(set)  # result event → certificate ids
    numbers: dict[str, set[str]] = defaultdict(set)  # number → certificate ids
    for r in ev.events("certification.events"):
        if r.type == "certificate.issued":
            issued[r.data.get("result_event_id", "")].add(r.data.get("certificate_id", ""))
            numbers[r.data.get("number", "")].add(r.data.get("certificate_id", ""))
    out = [f"recognised result {i} has no certificate" for i in sorted(recognised - set(issued))]
    out += [f"result {i} has {len(c)} certificates: {sorted(c)}" for i, c in issued.items() if len(c) > 1]
    out += [f"certificate for {i}, which is not a recognised result" for i in sorted(set(issued) - recognised)]
    out += [f"certificate number {n} given to {sorted(c)}" for n, c in numbers.items() if len(c) > 1]
    return out


def _receipts(ev: Evidence) -> list[str]:
    by_round: dict[str, set[int]] = defaultdict(set)
    for r in ev.events("intake.events"):
        if r.type == "dossier.received":
            match = re.search(r"(\d+)$", r.data.get("receipt_number", ""))
            if match:
                by_round[r.data.get("round_code", "")].add(int(match.group(1)))
    out = []
    for code, numbers in sorted(by_round.items()):
        missing = sorted(set(range(1, max(numbers) + 1)) - numbers)
        if missing:
            out.append(f"round {code}: receipt numbers {missing} missing of {max(numbers)}")
    return out


def _expected_mails(ev: Evidence) -> dict[str, tuple[str, int]]:
    """Event id → (type, how many mails it calls for): the producer's one, each panel member's, the chair's."""
    out: dict[str, tuple[str, int]] = {}
    for topic in ("intake.events", "scoring.events", "certification.events"):
        for r in ev.events(topic):
            if r.type in PRODUCER_MAILS:
                out[r.id or ""] = (r.type or "", 1)
            elif r.type == "panel.formed":
                out[r.id or ""] = (r.type, sum(bool(m.get("email")) for m in r.data.get("members", [])))
            elif r.type == "scoring.completed":
                out[r.id or ""] = (r.type, 1)
    return out


def _mails(ev: Evidence, duplicates_allowed: int) -> list[str]:
    out = []
    made = Counter(d["about_event_id"] for d in ev.deliveries)
    for event_id, (kind, n) in sorted(_expected_mails(ev).items()):
        if made[event_id] != n:
            out.append(f"{kind} {event_id}: {made[event_id]} mail(s) made, {n} called for")
    caught = Counter(message_id for _, message_id in ev.mails)
    known = {d["_id"] for d in ev.deliveries}
    duplicates = 0
    for d in ev.deliveries:
        if d.get("status") != "sent":
            out.append(f"{d['template']} to {d['address']} ({d['_id']}) is {d.get('status')}, never sent")
        if caught[d["_id"]] == 0 and d.get("status") == "sent":
            out.append(f"{d['template']} to {d['address']} ({d['_id']}) recorded sent but never received")
        if caught[d["_id"]] > 1:
            duplicates += caught[d["_id"]] - 1
            if duplicates > duplicates_allowed:
                out.append(f"{d['template']} to {d['address']} ({d['_id']}) received {caught[d['_id']]} times")
    out += [f"a mail to {to} ({i}) that notify never made" for to, i in ev.mails if i not in known]
    return out


def _dead_letters(ev: Evidence) -> list[str]:
    out = []
    for topic, records in sorted(ev.topics.items()):
        if topic.endswith(".dlq"):
            for r in records:
                missing = [h for h in DLQ_HEADERS if h not in r.headers]
                if missing:
                    out.append(f"dead letter {topic}[{r.partition}]@{r.offset} lacks headers {missing}")
    out += [f"consumer group {where} is {n} record(s) behind" for where, n in sorted(ev.lag.items()) if n > 0]
    return out


# ---- gathering the evidence from a running system ----------------------------------------------------------------

async def read_topics(system: System, topics: list[str]) -> dict[str, list[Record]]:
    """Every record of ``topics`` (names without the prefix), as the auditor reads them, to their end now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=system.bootstrap, enable_auto_commit=False, group_id=None,
                                **system.client(AUDITOR))
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # what consumer.topics() reads, with partitions
        parts = [TopicPartition(system.prefix + t, p) for t in topics
                 for p in sorted(cluster.partitions_for_topic(system.prefix + t) or ())]
        if not parts:
            return {t: [] for t in topics}
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: dict[str, list[Record]] = {t: [] for t in topics}
        deadline = time.monotonic() + 120
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, "the topics could not be read to their end in 120 s"
            for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                for m in batch:
                    if m.offset >= ends[tp]:
                        continue
                    out[tp.topic.removeprefix(system.prefix)].append(Record(
                        tp.topic.removeprefix(system.prefix), tp.partition, m.offset, _event(m.value),
                        {k: v.decode(errors="replace") for k, v in (m.headers or ())}, m.key, m.value or b"",
                        tuple(m.headers or ())))
        return out
    finally:
        await consumer.stop()


def _event(value: bytes | None) -> dict[str, Any] | None:
    try:
        event = json.loads(value or b"")
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


async def consumer_lag(system: System) -> dict[str, int]:
    """Per consumer group and partition of this run's topics: end offset minus the group's committed offset."""
    admin = AIOKafkaAdminClient(bootstrap_servers=system.bootstrap, **system.client("admin"))
    consumer = AIOKafkaConsumer(bootstrap_servers=system.bootstrap, group_id=None, **system.client(AUDITOR))
    await admin.start()
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        lag: dict[str, int] = {}
        for group, *_ in await admin.list_consumer_groups():
            committed = await admin.list_consumer_group_offsets(group)
            topics = {tp.topic for tp in committed if tp.topic.startswith(system.prefix)}
            parts = [TopicPartition(t, p) for t in topics for p in cluster.partitions_for_topic(t) or ()]
            ends = await consumer.end_offsets(parts) if parts else {}
            for tp in parts:
                done = committed.get(tp)
                lag[f"{group} {tp.topic.removeprefix(system.prefix)}[{tp.partition}]"] = \
                    ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


def gather(system: System, injected: set[tuple[str, int, int]] | None = None) -> Evidence:
    topics = [f"{s}.events" for s in SERVICES] + [f"{s}.events.dlq" for s in SERVICES] + [CHECKPOINTS]
    records = asyncio.run(read_topics(system, topics))
    client: MongoClient[dict[str, Any]] = MongoClient(system.mongodb)
    try:
        stores = {s: [d["event_id"] for d in client[system.databases[s]]["events"].find({}, {"event_id": 1})]
                  for s in SERVICES}
        deliveries = list(client[system.databases["notify"]]["deliveries"].find(
            {"channel": "email"}, {"about_event_id": 1, "template": 1, "status": 1, "address": 1}))
        leaves = {s: [(int(d["_id"]), d["event_id"]) for d in client[system.databases[s]][LEAVES].find(
            {}, {"event_id": 1})] for s in SERVICES}
    finally:
        client.close()
    mails = [(m.to, m.message_id) for m in system.catcher.caught()]
    return Evidence(records, stores, deliveries, mails, asyncio.run(consumer_lag(system)), injected or set(),
                    leaves)


def settled(system: System, *, seconds: float = 120, limit: float = 900, quiet: float = 6,
            injected: set[tuple[str, int, int]] | None = None, duplicate_mails_allowed: int = 0
            ) -> tuple[Evidence, list[str]]:
    """The evidence once the system has had time to finish what it started: checked until nothing is wrong and
    the mail count has not moved for ``quiet`` seconds; or, while something is wrong, until nothing has moved
    (events on the topics and in the stores, deliveries, mails, consumer lag) for ``seconds``, or ``limit`` seconds
    have passed in all: then what is still wrong is the finding. Driven by progress, not by the clock alone: a
    system catching up slowly on a busy machine is given the time it keeps using, a stuck one is not waited for."""
    started = time.monotonic()
    last_count, since = -1, started
    last_state: tuple[Any, ...] = ()
    moved = started
    while True:
        ev = gather(system, injected)
        problems = check(ev, duplicate_mails_allowed=duplicate_mails_allowed)
        now = time.monotonic()
        if len(ev.mails) != last_count:
            last_count, since = len(ev.mails), now
        state = (tuple(len(r) for r in ev.topics.values()), tuple(len(s) for s in ev.stores.values()),
                 sorted(Counter(d.get("status") for d in ev.deliveries).items()), len(ev.mails),
                 sum(ev.lag.values()), len(problems))
        if state != last_state:
            last_state, moved = state, now
        if not problems and now - since >= quiet:
            return ev, problems
        if problems and (now - moved > seconds or now - started > limit):
            return ev, problems
        time.sleep(2)


def proposals_on_topic(system: System, round_id: str) -> list[str]:
    """The proposal ids recorded for ``round_id``, from scoring's topic."""
    records = asyncio.run(read_topics(system, ["scoring.events"]))["scoring.events"]
    return [r.data.get("proposal_id", "") for r in records
            if r.type == "result.proposed" and r.data.get("round_id") == round_id]
