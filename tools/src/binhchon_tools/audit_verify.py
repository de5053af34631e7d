"""``binhchon-audit verify``: the whole log from the topics, checked (the integrity of every stream, then every
decision, certificate, escalation and checkpoint)."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from binhchon_tools.audit_awards import check_awards
from binhchon_tools.audit_chain import ChainCheck
from binhchon_tools.audit_checkpoints import ALL_SERVICES, check_checkpoints
from binhchon_tools.audit_decisions import (
    KEPT_TYPES,
    READ_AS_FETCHED,
    WHOLE,
    Log,
    check_certificates,
    check_escalations,
    check_streams_in_worker,
    finish_decisions,
    start_decisions,
    worker_rulebooks,
)
from binhchon_tools.audit_findings import Findings
from binhchon_tools.audit_report import Progress
from binhchon_tools.audit_signatures import check_signatures, note_unchecked
from binhchon_tools.audit_topics import compiled_reader, compiled_reading, read_records
from scoring.adapters.rulebooks import Rulebooks


def load_jwks(where: str | None) -> dict[str, Any] | None:
    """A JWKS: the certification service's ``/.well-known/jwks.json`` or a service's ``/log/jwks.json``, by URL,
    or a saved copy."""
    if not where:
        return None
    if where.startswith(("http://", "https://")):
        response = httpx.get(where, timeout=30)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data
    loaded: dict[str, Any] = json.loads(Path(where).read_text(encoding="utf-8"))
    return loaded


def load_log_jwks(given: list[str]) -> dict[str, dict[str, Any]]:
    """``--log-jwks [SERVICE=]URL|FILE``, each a service's ``/log/jwks.json`` (or a saved copy); without a
    service, the keys of every service's log."""
    keys: dict[str, dict[str, Any]] = {}
    for item in given:
        service, sep, where = item.partition("=")
        if not sep or "/" in service or ":" in service:
            service, where = ALL_SERVICES, item
        loaded = load_jwks(where) or {}
        held = keys.setdefault(service, {"keys": []})
        held["keys"] = [*held["keys"], *loaded.get("keys", [])]
    return keys


async def verify(bootstrap: str, topics: list[str], prefix: str, *, jwks: dict[str, Any] | None = None,
                 log_jwks: dict[str, dict[str, Any]] | None = None, workers: int = 0,
                 progress: Progress | None = None, rulebooks: Rulebooks | None = None) -> Findings:
    chain = ChainCheck(prefix, KEPT_TYPES, workers, whole=WHOLE)
    try:
        return await _verify(chain, bootstrap, topics, jwks=jwks, log_jwks=log_jwks, progress=progress,
                             rulebooks=rulebooks)
    finally:
        chain.close()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while the log is verified. What the read keeps (a few small objects
    per event, to the end) was scanned again by every collection the read's allocations triggered: about 40 % of
    the main process's CPU on 100,000 events (ADR 0042, 2026-11-29). The verify makes almost no reference cycles;
    the few are collected once it resumes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _verify(chain: ChainCheck, bootstrap: str, topics: list[str], *, jwks: dict[str, Any] | None,
                  log_jwks: dict[str, dict[str, Any]] | None, progress: Progress | None,
                  rulebooks: Rulebooks | None) -> Findings:
    progress = progress or Progress("verify")
    pool_decides = rulebooks is None  # workers check with the rulebooks of the source tree, not given ones
    rulebooks = rulebooks or worker_rulebooks()
    # the services' own definitions the checks use (what a certificate signs, a dossier's identity), imported now
    # rather than on the clock, and before the workers fork: they inherit these and the rulebooks
    import certification.service  # noqa: F401
    import intake.domain.dossiers  # noqa: F401
    pool = chain.pool if pool_decides else None
    # read by the compiled reader, the worker processes are needed only for the few streams the compiled decider
    # leaves: they start when first needed, if ever (``start_decisions``)
    lazy_workers = chain.native is not None and compiled_reading()
    if not lazy_workers:
        await chain.warm_up()  # the worker processes started before the clock runs
        if pool is not None:  # spawned workers import the scoring domain and load its rulebooks now
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(pool, check_streams_in_worker, [], {}) for _ in range(4)))
    with collector_paused():
        return await _verified(chain, bootstrap, topics, jwks=jwks, log_jwks=log_jwks, progress=progress,
                               rulebooks=rulebooks, pool=pool)


async def _read(chain: ChainCheck, bootstrap: str, topics: list[str], progress: Progress
                ) -> tuple[list[str], str, dict[bytes, dict[str, Any]]]:
    """Every record of the topics noted by the chain check: read by the compiled reader on threads of its own
    where it is built, else (or where it gives up: a compressed batch, a transaction's markers) by aiokafka from
    the start. Answers the topics that do not exist, which reader read them, and the looked-up events the log's
    index always reads (``READ_AS_FETCHED``), already parsed by their raw JSON.

    The compiled reader's threads go on reading while this thread notes a fetch, so the looked-up events are
    parsed here as they come rather than after the read: the read left this thread idle a third of the time,
    and their parsing was half of the log's index that followed it (ADR 0059, 2026-12-02 morning)."""
    reader = compiled_reader(bootstrap, topics) if chain.native is not None else None
    if reader is not None:
        parsed: dict[bytes, dict[str, Any]] = {}
        try:
            total, missing = await asyncio.to_thread(reader.start)
            progress.start(total)
            while (fetched := await asyncio.to_thread(reader.next)) is not None:
                records = len(fetched)  # (taking them moves their values out of it)
                looked_up = fetched.exact_values_of(READ_AS_FETCHED)
                chain.take_fetched(fetched)
                for raw in looked_up:
                    parsed[raw] = orjson.loads(raw)
                progress.advance(records)
            return list(missing), "compiled", parsed
        except RuntimeError as error:
            print(f"[audit] the compiled read stopped ({error}): reading again with aiokafka", file=sys.stderr)
            chain.restart()
    missing_topics: list[str] = []
    async for batch in read_records(bootstrap, topics, on_start=progress.start, on_missing=missing_topics.append):
        chain.feed(batch)
        await chain.drain()
        progress.advance(len(batch))
    return missing_topics, "aiokafka", {}


async def _verified(chain: ChainCheck, bootstrap: str, topics: list[str], *, jwks: dict[str, Any] | None,
                    log_jwks: dict[str, dict[str, Any]] | None, progress: Progress, rulebooks: Rulebooks,
                    pool: Executor | None) -> Findings:
    started = time.perf_counter()
    missing, reader, parsed = await _read(chain, bootstrap, topics, progress)
    seconds = progress.finish()  # from the first record's range known (signed in, the partitions' ends asked)
    lap = time.perf_counter()
    findings = await chain.finish()
    for topic in missing:
        findings.add("topic", topic, "no such topic: its events cannot be checked")
    phases = {"start": round(lap - started - seconds, 2), "read": round(seconds, 2),
              "chains": round(time.perf_counter() - lap, 2)}
    lap = time.perf_counter()
    log = Log(chain.kept_of(WHOLE if chain.native is not None else None), index=False, parsed=parsed)
    # the decisions confirmed by the compiled decider's threads (or recomputed by the worker processes) while
    # this thread indexes the log and checks the rest
    pending = start_decisions(log, pool, rulebooks, chains=chain.native)
    log.index()
    malformed_at = len(findings.discrepancies)  # where the unreadable looked-up events are named (below)
    phases["log"], lap = round(time.perf_counter() - lap, 2), time.perf_counter()
    decided_at = len(findings.discrepancies)  # where the decisions' findings go, as when checked in order
    findings.counts["decisions_recomputed"] = 0  # (counted when they are in; the summary keeps its order)
    if findings.counts["per_topic"].get("certification.events", 0) == 0:
        findings.notes.append("no event on certification.events: certificates not checked")
    else:
        if jwks is None:
            findings.notes.append("no --jwks: certificate signatures not checked (only their match with results)")
        check_certificates(log, findings, jwks)
        check_awards(log, findings)
    check_escalations(log, findings)
    check_checkpoints(chain.log_order, chain.checkpoints, findings, log_jwks)
    if log_jwks:
        check_signatures(chain.signed, findings, log_jwks, chain.pool)
    else:
        note_unchecked(chain.sources(), findings)
    # named once the checks are done: a receipt is read, and found unreadable, only when one asks (``Log.received``)
    unreadable = Findings()
    for stream, event_id, why in log.malformed:
        unreadable.add("data", stream, why, event_id)
    findings.discrepancies[malformed_at:malformed_at] = unreadable.discrepancies
    decided_at += len(unreadable.discrepancies)
    phases["other_checks"], lap = round(time.perf_counter() - lap, 2), time.perf_counter()
    finish_decisions(pending, findings, decided_at)
    phases["decisions_after"] = round(time.perf_counter() - lap, 2)
    # the rate covers the whole verify: reading, hashing, and every decision and certificate checked
    total = time.perf_counter() - started
    findings.counts["read_seconds"] = round(seconds, 2)
    findings.counts["reader"] = reader
    findings.counts["phase_seconds"] = phases
    findings.counts["seconds"] = round(total, 2)
    findings.counts["events_per_second"] = int(findings.counts["events"] / total) if total > 0 else 0
    if not findings.counts["events"]:
        findings.notes.append(f"no event on {', '.join(topics)}")
    return findings
