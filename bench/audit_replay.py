"""Benchmark: replay and verify 100,000 events from Kafka with ``binhchon-audit verify``, beside the raw rate
at which aiokafka alone consumes the same topics in the same run.

    uv run python bench/audit_replay.py [--events 100000] [--workers 2] [--out bench/results/FILE.jsonl]

The events are a realistic log made with the services' own domain code and valid chains (sealed through the
audit's hash adapter, i.e. the kit's hash): per province round a round.opened and a panel.formed; per dossier
dossier.received (with its documents) and dossier.accepted, scoring.opened, seven score.submitted,
scoring.completed and the authority's result, and a signed certificate.issued for each recognised result.
The raw read and the verify each run in a process of their own, so each peak memory (``ru_maxrss``) is its own.
Both are timed from signing in to the broker to the last record read (``share_of_raw``); the raw read's rate
without its sign-in and its partitions' ends asked, as this bench took it until 2026-12-01, is given beside
(``share_of_raw_read_only``). Goal (issue 12): ≥ 20,000 events/s on 2 cores and ≥ 50 % of the raw rate. Printed,
never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import subprocess
import sys
import sysconfig
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.contracts.registry import EventData, event_model, registration_of
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.principals import ADMIN, AUDITOR, client_options
from binhchon_kit.signing import Signer
from binhchon_kit.testing.infra import REPO, provide
from binhchon_kit.testing.samples import dossier_body
from binhchon_kit.topics import all_topics, ensure_topics
from binhchon_tools.audit_hash import GENESIS, seal
from binhchon_tools.audit_topics import service_topics
from certification.domain import certificates as certs
from scoring.adapters.rulebooks import Rulebooks
from scoring.domain import scoring as rules
from scoring.domain.scoring import evolve
from scoring.domain.sealing import derive

START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
MEMBERS = [f"cm-{k}" for k in range(1, 8)]
SYSTEM = Actor("system:bench", ("system",))
SEALING_MASTER = bytes(range(32))  # the bench's sealing master key: the audit never needs it


class Log:
    """Streams being written: each event sealed onto its stream's chain, then sent to its topic."""

    def __init__(self, producer: AIOKafkaProducer, prefix: str) -> None:
        self.producer = producer
        self.prefix = prefix
        self.heads: dict[str, tuple[int, str]] = {}
        self.clock = START
        self.count = 0
        self.sends: list[asyncio.Future[Any]] = []

    async def record(self, stream: str, subject: str, data: EventData | dict[str, Any], *, type_: str = "",
                     actor: Actor = SYSTEM, cause: RecordedEvent | None = None
                     ) -> RecordedEvent:
        type_ = type_ or registration_of(type(data)).type  # type: ignore[arg-type]
        registration = event_model(type_)
        body = data.model_dump(mode="json") if isinstance(data, EventData) else data
        version, prev = self.heads.get(stream, (0, GENESIS))
        self.clock += timedelta(milliseconds=7)
        event_id = str(uuid.uuid4())
        event = seal(RecordedEvent(
            id=event_id, stream=stream, version=version + 1, type=type_, schema_version=registration.schema_version,
            subject=subject, time=self.clock, data=body, actor=actor,
            correlation_id=cause.correlation_id if cause else event_id, causation_id=cause.id if cause else event_id,
            source=f"/binhchon/{registration.topic.split('.')[0]}", prev_hash=prev, hash=""), prev)
        self.heads[stream] = (event.version, event.hash)
        self.sends.append(await self.producer.send(
            self.prefix + registration.topic, event.to_cloudevent().to_bytes(), key=subject.encode()))
        self.count += 1
        if len(self.sends) >= 5000:
            await asyncio.gather(*self.sends)
            self.sends = []
        return event


def scores_for(sheet: Any, rng: random.Random) -> dict[str, float]:
    scores = {}
    for criterion in sheet.criteria:
        choices = criterion.allowed or [x / 2 for x in range(int(criterion.maximum * 2) + 1)]
        scores[criterion.code] = rng.choice([v for v in choices if v >= criterion.maximum * 0.5] or choices)
    return scores


async def produce(kafka: str, prefix: str, wanted: int) -> int:
    rng = random.Random(12)
    rulebook = Rulebooks.load().get("ocop-2023", 2)
    assert rulebook is not None
    signer = Signer(Ed25519PrivateKey.generate())
    producer = AIOKafkaProducer(bootstrap_servers=kafka, linger_ms=20, max_batch_size=512 * 1024,
                                request_timeout_ms=180_000,  # a loaded shared machine: a send may wait long
                                max_request_size=8 * 1024 * 1024, **client_options(ADMIN))
    await producer.start()
    log = Log(producer, prefix)
    secretariat, approver = Actor("tk-1", ("secretariat",)), Actor("ubnd", ("approver",))
    try:
        n_round = 0
        while log.count < wanted:
            n_round += 1
            round_id = f"round-{uuid.uuid4()}"
            opened = await log.record(f"round-{round_id[6:]}", round_id, {
                "round_id": round_id, "code": f"BG-{n_round}", "title": "Đánh giá, phân hạng sản phẩm OCOP tỉnh",
                "programme": "OCOP", "rulebook_id": "ocop-2023", "level": "province",
                "area": {"province_code": "24"}, "year": 2026, "batch": 1, "organiser": "UBND tỉnh Bắc Giang",
                "schedule": {"submission_opens": "2026-11-01", "submission_closes": "2026-12-01",
                             "council_date": "2026-12-15"}, "parent_round_id": None, "max_supplement_requests": 1,
                "receives": "all"}, type_="round.opened", actor=secretariat)
            panel = rules.PanelFormed(panel_id=f"panel-{uuid.uuid4()}", round_id=round_id, name="Hội đồng OCOP tỉnh",
                                      members=[rules.PanelMember(id=m, name=f"Thành viên {m}", organisation="UBND",
                                                                 role="chair" if m == "cm-1" else "member")
                                               for m in MEMBERS],
                                      quorum={"fraction": 0.75, "chair_required": True},  # type: ignore[arg-type]
                                      sessions=["dossier", "samples"], spread_threshold=100)  # type: ignore[list-item]
            await log.record(panel.panel_id, round_id, panel, actor=secretariat, cause=opened)
            decision = DecisionReference(number=f"{n_round}/QĐ-UBND", date=date(2026, 12, 20),
                                         signer="Phó Chủ tịch UBND tỉnh", authority="UBND tỉnh Bắc Giang")
            for n in range(50):
                if log.count >= wanted:
                    break
                await dossier(log, rng, rulebook, signer, panel, round_id, opened, decision, secretariat, approver,
                              f"Sản phẩm {n_round}-{n}")
        await asyncio.gather(*log.sends)
    finally:
        await producer.stop()
    return log.count


async def dossier(log: Log, rng: random.Random, rulebook: Any, signer: Signer, panel: Any, round_id: str,
                  opened: RecordedEvent, decision: DecisionReference, secretariat: Actor, approver: Actor,
                  product: str) -> None:
    dossier_id = f"dossier-{uuid.uuid4()}"
    body = dossier_body(product=product, regno=f"24{rng.randrange(10**8):08d}")
    received = await log.record(dossier_id, dossier_id, {
        "dossier_id": dossier_id, "round_id": round_id, "round_code": "BG", "programme": "OCOP",
        "level": "province", "receipt_number": f"BN-{rng.randrange(10**6):06d}",
        "received_at": "2026-11-20T03:00:00Z", "check_due_date": "2026-11-27", **body, "escalated_from": None},
        type_="dossier.received", actor=Actor("htx-1", ("applicant",)), cause=opened)
    accepted = {"round_id": round_id, "rulebook_id": "ocop-2023", "programme": "OCOP", "level": "province",
                "product_group": "thực phẩm", "sample_code": "TP-01", "result_due_date": None,
                "product_name": product, "producer_name": body["producer"]["name"],
                "producer_registration_number": body["producer"]["registration_number"], "province_code": "24"}
    accept = await log.record(dossier_id, dossier_id, accepted, type_="dossier.accepted", actor=secretariat,
                              cause=received)
    stream = f"scoring-{dossier_id[8:]}"
    events = [await log.record(stream, dossier_id, rules.open_scoring(accepted, dossier_id, rulebook),
                               cause=accept)]
    state = evolve(None, events[-1])
    assert state is not None
    sheet = rulebook.sheet(state.opened.sheet_id)
    key = derive(SEALING_MASTER, "bench", dossier_id)  # sheets sealed as scoring seals them (ADR 0036)
    for member in MEMBERS:
        sheet_event = rules.submit(rules.unsealed(state, key), panel, rulebook, member, scores_for(sheet, rng), "",
                                   key)
        events.append(await log.record(stream, dossier_id, sheet_event, actor=Actor(member, ("judge",)),
                                       cause=events[-1]))
        state = evolve(state, events[-1])
        assert state is not None
    completed = rules.evaluate(rules.unsealed(state, key), panel, rulebook, closing=False, key=key)
    assert isinstance(completed, rules.ScoringCompleted)
    events.append(await log.record(stream, dossier_id, completed, cause=events[-1]))
    state = evolve(state, events[-1])
    assert state is not None
    result = await log.record(stream, dossier_id, rules.decide(state, decision, rulebook), actor=approver,
                              cause=events[-1])
    if result.type == "result.approved" and result.data["rating"]["recognised"]:
        cert_stream = certs.certificate_id_for(result.id)
        content = certs.content(result.data, certificate_id=cert_stream, number=f"OCOP-UBNDTBG-2026-{log.count:05d}",
                                issued_on=date(2026, 12, 21), result_event_id=result.id, supersedes=None)
        await log.record(cert_stream, dossier_id, {**content, "signature": signer.sign(content),
                                                   "key_id": signer.kid}, type_="certificate.issued", cause=result)


async def raw_read(kafka: str, topics: list[str]) -> dict[str, Any]:
    """aiokafka alone: every record of the topics from the beginning, nothing done with them (signed in as the
    verify is: the auditor). Timed as the verify is, from signing in to the last record (its ``seconds``, the
    rate the share is taken of); ``read_only_seconds`` leaves out signing in and asking the partitions' ends, as
    this bench did until 2026-12-01 (the verify's clock always included them: ADR 0059, 2026-12-01 night)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False, group_id=None,
                                **client_options(AUDITOR),
                                fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=16 * 1024 * 1024)
    signing_in = time.perf_counter()
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        parts = [TopicPartition(t, p) for t in topics for p in sorted(cluster.partitions_for_topic(t) or ())]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        started = time.perf_counter()
        count = 0
        left = {tp for tp in parts if ends[tp] > 0}
        while left:
            for tp, messages in (await consumer.getmany(*left, timeout_ms=1000, max_records=5000)).items():
                count += len(messages)
                if messages and messages[-1].offset >= ends[tp] - 1:
                    left.discard(tp)
        ended = time.perf_counter()
    finally:
        await consumer.stop()
    seconds, read_only = ended - signing_in, ended - started
    return {"events": count, "seconds": round(seconds, 3), "events_per_second": int(count / seconds),
            "read_only_seconds": round(read_only, 3), "read_only_events_per_second": int(count / read_only)}


async def hash_only(kafka: str, topics: list[str]) -> dict[str, Any]:
    """The kit's hash alone over the same events, in one process: the bound the verify's hashing works within."""
    from binhchon_tools.audit_chain import hash_values
    from binhchon_tools.audit_topics import read_records

    values = [r.value async for batch in read_records(kafka, topics) for r in batch]
    started = time.perf_counter()
    hash_values(values)
    seconds = time.perf_counter() - started
    return {"events": len(values), "seconds": round(seconds, 3), "events_per_second": int(len(values) / seconds)}


def peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def verified(kafka: str, topics: list[str], prefix: str, workers: int, profile: str = "") -> dict[str, Any]:
    """The verify measured in this process: its rate, findings counted, CPU seconds (``profile``: the main process
    under cProfile, its stats saved to that file)."""
    from binhchon_tools.audit_report import Progress
    from binhchon_tools.audit_verify import verify

    before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.devnull, "w") as quiet:
        run = verify(kafka, topics, prefix, workers=workers, progress=Progress("bench", quiet))
        if profile:
            import cProfile

            with cProfile.Profile() as profiler:
                findings = asyncio.run(run)
            profiler.dump_stats(profile)
        else:
            findings = asyncio.run(run)
    after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    counts = findings.counts
    # CPU seconds depend far less than the rate on what else the shared machine runs: the main process's, and
    # the worker processes' (ended with the verify; their start, the same for any tools tree, included)
    cpu = {"main": round(sum(after[0][:2]) - sum(before[0][:2]), 2),
           "workers": round(sum(after[1][:2]) - sum(before[1][:2]), 2)}
    return {"events": counts["events"], "seconds": counts["seconds"], "read_seconds": counts.get("read_seconds"),
            "reader": counts.get("reader", "aiokafka"), "phase_seconds": counts.get("phase_seconds"),
            "events_per_second": counts["events_per_second"], "discrepancies": len(findings.discrepancies),
            "decisions_recomputed": counts.get("decisions_recomputed", 0),
            "certificates": counts.get("certificates", 0), "cpu_seconds": cpu}


def child(mode: str, kafka: str, prefix: str, workers: int, profile: str = "") -> None:
    """One measured part in this process: ``raw``, ``verify`` or ``hash``; one JSON line on stdout. ``profile``:
    the verify's main process under cProfile, its stats saved to that file (the rate is then not comparable)."""
    topics = service_topics(prefix)
    if mode == "raw":
        out = asyncio.run(raw_read(kafka, topics))
    elif mode == "hash":
        out = asyncio.run(hash_only(kafka, topics))
    else:
        out = verified(kafka, topics, prefix, workers, profile)
    # the load when this part ended: the machine is shared, and a rate means little without it
    print(json.dumps({**out, "peak_rss_mib": peak_mib(), "loadavg_1m": round(os.getloadavg()[0], 1)}))


def measure(mode: str, kafka: str, prefix: str, workers: int, profile: str = "", tools: str = ""
            ) -> dict[str, Any]:
    """One part in a process of its own; ``tools``: a source tree of binhchon_tools to verify with instead."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (tools, os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run([sys.executable, __file__, "--child", mode, "--kafka", kafka, "--prefix", prefix,
                           "--workers", str(workers), "--profile", profile], capture_output=True, text=True,
                          check=True, env=env)
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return measured


def compile_bytecode() -> float:
    """Compile the tool's modules and its dependencies to bytecode before anything is timed, as an installed tool
    has them (pip compiles at install; Python writes its caches on the first run). This machine sets
    ``PYTHONDONTWRITEBYTECODE=1``, so without this every measured verify, and each of its worker processes,
    compiled every module it imported while the clock ran (about a second per 100,000 events). Seconds spent."""
    started = time.perf_counter()
    ours = (REPO / "libs" / "kit" / "src", REPO / "tools" / "src", *sorted(REPO.glob("services/*/src")))
    sources = [*map(str, ours), sysconfig.get_paths()["purelib"]]
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *sources], check=True,
                   stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="verify's hashing processes")
    parser.add_argument("--out", type=Path, default=None, help="also append the JSON line to this file")
    parser.add_argument("--warmup-reads", type=int, default=3,
                        help="unmeasured raw reads and verifies first, while the fresh broker compiles its fetch paths")
    parser.add_argument("--profile", default="", help="after the measured runs, profile a second verify (cProfile "
                        "of its main process) and save the stats to this file")
    parser.add_argument("--compare-with", default="", metavar="TOOLS_SRC",
                        help="also verify the same events with another binhchon_tools source tree (e.g. an earlier "
                        "commit's tools/src, from git archive), right before this one's: a before/after in one run")
    parser.add_argument("--child", choices=["raw", "verify", "hash"], help=argparse.SUPPRESS)
    parser.add_argument("--kafka", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.kafka, args.prefix, args.workers, args.profile)
        return
    with provide(Path(REPO / ".run" / f"bench-{uuid.uuid4().hex[:8]}")) as infra:
        if infra.kafka_credentials is not None:  # a SASL broker (docs/adr/0031): every client here, and the
            os.environ["KAFKA_CREDENTIALS_DIR"] = str(infra.kafka_credentials)  # children, sign in from there
        prefix = f"bench{uuid.uuid4().hex[:8]}."
        asyncio.run(ensure_topics(infra.kafka, all_topics(prefix), partitions=6))
        started = time.perf_counter()
        produced = asyncio.run(produce(infra.kafka, prefix, args.events))
        produce_seconds = time.perf_counter() - started
        compile_seconds = compile_bytecode()
        # the broker's own warm-up: its JIT compiles the fetch path over its first reads (a fresh broker served
        # the first read of 100,000 events in twice the time of the fifth), so whatever was measured first paid
        # it; aiokafka and the compiled reader ask with different request versions, each its own code to compile
        # (the first verify after five aiokafka reads still took 2.2 s, the next ones 1.2)
        for _ in range(args.warmup_reads):
            measure("raw", infra.kafka, prefix, args.workers)
            measure("verify", infra.kafka, prefix, args.workers)
        raw = measure("raw", infra.kafka, prefix, args.workers)
        compared = (measure("verify", infra.kafka, prefix, args.workers, tools=args.compare_with)
                    if args.compare_with else None)
        audited = measure("verify", infra.kafka, prefix, args.workers)
        hashing = measure("hash", infra.kafka, prefix, args.workers)
        if args.profile:
            measure("verify", infra.kafka, prefix, args.workers, args.profile)
    line = {"bench": "audit_replay", "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": platform.node(), "cpus": os.cpu_count(), "events": produced,
            "produce_seconds": round(produce_seconds, 1), "workers": args.workers, "warmup_reads": args.warmup_reads,
            "bytecode": {"compiled_before_measuring_s": compile_seconds,
                         "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", "")},
            "loadavg_1m": round(os.getloadavg()[0], 1),
            "verify": audited, "raw_aiokafka": raw, "kit_hash_one_process": hashing,
            "share_of_raw": round(audited["events_per_second"] / raw["events_per_second"], 3),
            "share_of_raw_read_only": round(audited["events_per_second"] / raw["read_only_events_per_second"], 3),
            "goal": {"events_per_second": 20_000, "share_of_raw": 0.5}}
    if compared is not None:
        line["verify_compared"] = {**compared, "tools": args.compare_with,
                                   "share_of_raw": round(compared["events_per_second"] / raw["events_per_second"], 3)}
    emit(line, args.out)


def emit(line: dict[str, Any], path: Path | None) -> None:
    """The JSON line printed, and appended to ``path`` if given."""
    print(json.dumps(line, ensure_ascii=False))
    if path:
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
