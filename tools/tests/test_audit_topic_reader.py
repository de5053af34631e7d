"""The compiled topic reader (``binhchon_audit_core.TopicReader``, docs/adr/0059, 2026-12-01 evening) on the real
broker, signed in as the auditor over TLS: it reads what aiokafka reads and the chain check notes the same from
it. Forged logs (``test_audit_core.forged_log``: copies, drops, relinks, wrong topics, unknown types, checkpoints,
odd attributes, bytes that are not JSON) and an empty value are published to topics of their own; the chain
check fed by each reader finds the same, keeps the same and counts the same (the order of the partitions read
differs, so findings are compared as a multiset). Where it cannot read as aiokafka does (a compressed batch) the
verify reads again with aiokafka from the start, and finds what aiokafka alone finds.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import re
import uuid
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from binhchon_kit.topic_history import Record
from binhchon_kit.topics import all_topics, ensure_topics
from binhchon_tools import audit_decisions
from binhchon_tools.audit_chain import ChainCheck
from binhchon_tools.audit_decisions import KEPT_TYPES
from binhchon_tools.audit_report import Progress
from binhchon_tools.audit_topics import READER_SETTING, compiled_reader, read_records, service_topics
from binhchon_tools.audit_verify import verify
from tools.tests.test_audit_core import forged_log  # the forgeries the compiled chain check is held to

pytestmark = pytest.mark.integration

core = pytest.importorskip("binhchon_audit_core", reason="the compiled reader is built with cargo (make bootstrap)")


async def publish(infra: Any, records: list[Record], compression: str | None = None) -> str:
    """``records`` (topics named ``audit.<service>.events``) on a topic set of their own, each on its partition
    with its timestamp, written as the broker's super user; answers the set's prefix."""
    prefix = f"reader{uuid.uuid4().hex[:8]}."
    await ensure_topics(infra.kafka, all_topics(prefix), partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, compression_type=compression,
                                **infra.kafka_client("admin"))
    await producer.start()
    try:
        sends = [await producer.send(prefix + r.topic.removeprefix("audit."), r.value, partition=r.partition,
                                     timestamp_ms=max(r.timestamp, 0)) for r in records]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return prefix


def noted(chain: ChainCheck, found: Any) -> dict[str, Any]:
    """What a chain check found and hands on to the other checks."""
    return {"findings": found.discrepancies, "counts": found.counts, "kept": [tuple(k) for k in chain.kept],
            "signed": [tuple(s) for s in chain.signed], "checkpoints": chain.checkpoints,
            "log_order": chain.log_order.by_origin if chain.checkpoints else None}  # read only to check them


async def fetched_by_compiled_reader(infra: Any, topics: list[str]) -> tuple[list[Any], int, list[str]]:
    """Every partition's fetches, in partition order (the reader hands them on as they come)."""
    reader = compiled_reader(infra.kafka, topics)
    assert reader is not None
    total, missing = await asyncio.to_thread(reader.start)
    fetches = []
    while (fetched := await asyncio.to_thread(reader.next)) is not None:
        fetches.append(fetched)
    fetches.sort(key=lambda f: (f.topic, f.partition, f.records()[0][0]))
    return fetches, total, missing


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_it_reads_what_aiokafka_reads_and_the_chain_check_notes_the_same(infra, seed):
    """The same records (place, timestamp, value) as aiokafka's read; noted in the same order, the same findings
    in the same words, counts, kept records, signatures, checkpoints and log order as the chain check fed by
    aiokafka. (Which copy of a version is first depends on the order the partitions are read in, by either
    reader: both are fed partition by partition here.)"""
    rng = random.Random(seed)
    records = [r for _ in range(3) for r in forged_log(rng)]
    records.append(Record("audit.intake.events", 1, 0, b"", 7))  # a record with no value: not a CloudEvent
    prefix = await publish(infra, records)
    topics = service_topics(prefix)
    fetches, total, missing = await fetched_by_compiled_reader(infra, [*topics, f"{prefix}no.such.topic"])
    assert (total, missing) == (len(records), [f"{prefix}no.such.topic"])
    read = sorted([r async for batch in read_records(infra.kafka, topics) for r in batch],
                  key=lambda r: (r.topic, r.partition, r.offset))
    assert [Record(f.topic, f.partition, offset, value, timestamp)
            for f in fetches for offset, timestamp, value in f.records()] == read

    compiled, python = ChainCheck(prefix, KEPT_TYPES), ChainCheck(prefix, KEPT_TYPES, native=False)
    for fetched in fetches:
        compiled.take_fetched(fetched)
    python.feed(read)
    assert noted(compiled, await compiled.finish()) == noted(python, await python.finish())
    found = python.findings
    assert found.counts["events"] > 0 and {"unreadable", "chain"} <= {d.check for d in found.discrepancies}
    assert any(d.subject.startswith(f"{prefix}intake.events/1@") for d in found.discrepancies
               if d.check == "unreadable")


async def verified(infra: Any, prefix: str, workers: int = 2) -> dict[str, Any]:
    shown = io.StringIO()
    found = await verify(infra.kafka, service_topics(prefix), prefix, workers=workers, progress=Progress("test", shown))
    # the progress line reaches every record read (taking a fetch moves its values out: counted before)
    last = shown.getvalue().rstrip().splitlines()[-1]
    assert re.fullmatch(r"\[audit\] ([0-9,]+)/\1 \(100%\)", last), shown.getvalue()
    return {"findings": Counter((d.check, d.subject, d.message, tuple(d.event_ids)) for d in found.discrepancies),
            "events": found.counts["events"], "per_topic": found.counts["per_topic"],
            "reader": found.counts["reader"]}


def one_copy_each(records: list[Record]) -> list[Record]:
    """One record per stream version (the findings then do not depend on the order partitions are read in)."""
    seen: set[Any] = set()
    out = []
    for record in records:
        try:
            event = json.loads(record.value)
            key = (event["streamid"], event["streamversion"])
        except (ValueError, KeyError, TypeError):
            key = record.value
        if repr(key) not in seen:
            seen.add(repr(key))
            out.append(record)
    return out


async def test_on_a_topic_stamped_by_the_broker_it_gives_the_broker_s_time_as_aiokafka_does(infra):
    """A topic with ``message.timestamp.type=LogAppendTime``: aiokafka gives each record its batch's time of
    append, not the producer's; so does the compiled reader (it reads the batch's timestamp type since it speaks
    the protocol itself, ADR 0059, 2026-12-02 morning; before, it gave the producer's time)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    prefix = f"reader{uuid.uuid4().hex[:8]}."
    topic = f"{prefix}intake.events"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka, **infra.kafka_client("admin"))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1, topic_configs={"message.timestamp.type": "LogAppendTime"})])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, linger_ms=20, **infra.kafka_client("admin"))
    await producer.start()
    try:
        for round_ in range(3):  # several batches per partition, each stamped when appended
            sends = [await producer.send(topic, f"{round_}-{i}".encode(), partition=i % 2, timestamp_ms=1_000 + i)
                     for i in range(40)]
            await asyncio.gather(*sends)
    finally:
        await producer.stop()
    fetches, total, missing = await fetched_by_compiled_reader(infra, [topic])
    assert (total, missing) == (120, [])
    read = sorted([r async for batch in read_records(infra.kafka, [topic]) for r in batch],
                  key=lambda r: (r.topic, r.partition, r.offset))
    compiled = [Record(f.topic, f.partition, offset, value, timestamp)
                for f in fetches for offset, timestamp, value in f.records()]
    assert compiled == read
    assert all(r.timestamp > 1_000_000 for r in compiled)  # the broker's clock, not the 1,000 ms the producer gave


async def test_a_compressed_batch_is_read_again_by_aiokafka_with_the_same_findings(infra, monkeypatch, capsys):
    records = one_copy_each(forged_log(random.Random(9)) + forged_log(random.Random(10)))
    prefix = await publish(infra, records, compression="gzip")
    with_fallback = await verified(infra, prefix)
    assert with_fallback["reader"] == "aiokafka"
    assert "the compiled read stopped" in capsys.readouterr().err
    monkeypatch.setenv(READER_SETTING, "aiokafka")
    assert await verified(infra, prefix) == with_fallback
    assert with_fallback["events"] > 0


async def test_the_verify_reads_with_the_compiled_reader_where_it_can_and_finds_what_aiokafkas_read_finds(
        infra, monkeypatch):
    """Read by the compiled reader, the decisions are confirmed by the compiled decider on the chain check's own
    records (no ``bytes`` made of them), the rest recomputed in Python: the same findings as in one process, as
    with no compiled decider (scoring's replay and the Python confirmation alone, in worker processes), and as
    read by aiokafka (the decider then given the records aiokafka read)."""
    records = one_copy_each([r for seed in (11, 12, 13) for r in forged_log(random.Random(seed))])
    prefix = await publish(infra, [*records, Record("audit.intake.events", 0, 0, b"not json", 5)])
    found = await verified(infra, prefix)
    assert found["reader"] == "compiled" and found["events"] > 0
    assert {check for check, *_ in found["findings"]} >= {"data", "scoring", "certificate", "unreadable"}
    assert await verified(infra, prefix, workers=0) == found
    with monkeypatch.context() as without:
        without.setattr(audit_decisions, "compiled_decider", lambda *a: None)
        assert await verified(infra, prefix) == found
    monkeypatch.setenv(READER_SETTING, "aiokafka")
    assert await verified(infra, prefix) == {**found, "reader": "aiokafka"}


async def test_an_open_transaction_is_read_again_by_aiokafka_not_cut_short(infra):
    """Records of a transaction not yet committed, and any after them: aiokafka reads them (read uncommitted, up to
    the high watermark); the compiled reader reads committed records only, so it stops short, and the verify reads
    again with aiokafka rather than skipping them (found by review: its end was the last stable offset)."""
    records = one_copy_each(forged_log(random.Random(21)))
    prefix = await publish(infra, records)
    topic = f"{prefix}intake.events"
    open_transaction = AIOKafkaProducer(bootstrap_servers=infra.kafka, transactional_id=f"tx-{prefix}",
                                        **infra.kafka_client("admin"))
    await open_transaction.start()
    try:
        await open_transaction.begin_transaction()
        await (await open_transaction.send(topic, b"in an open transaction", partition=0))
        await publish_to(infra, topic, b"after it, not transactional")
        found = await verified(infra, prefix)
        assert found["reader"] == "aiokafka"
        assert found["events"] + sum(n for (check, *_), n in found["findings"].items() if check == "unreadable") \
            == len(records) + 2
    finally:
        await open_transaction.abort_transaction()
        await open_transaction.stop()


async def publish_to(infra: Any, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, **infra.kafka_client("admin"))
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, partition=0)
    finally:
        await producer.stop()


async def test_a_peer_that_never_answers_ends_the_read_with_an_error_not_a_hang():
    """rskafka sets no limit on a request; the reader does (30 s, aiokafka's is 40): a socket that accepts and never
    answers ends the read with an error within it (here 1 s), and the verify then reads with aiokafka."""
    from binhchon_audit_core import TopicReader

    silent = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        reader = TopicReader([f"127.0.0.1:{port}"], ["any.events"], timeout=1.0)
        with pytest.raises(RuntimeError, match="no answer in 1 s"):
            await asyncio.wait_for(asyncio.to_thread(reader.start), timeout=20)
    finally:
        silent.close()
