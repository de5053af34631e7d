"""Issuing on several partitions at once (ADR 0058), on the real broker and store: a council's approval releases
its dossiers together and their certificates no longer wait in one line. A process stopped with certificates in
flight (numbers claimed, nothing recorded yet: their tasks cancelled, as a crash leaves them) leaves them to the
next process, which issues each once, under the number it had claimed: the numbers stay gap-free and unique."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from aiokafka.partitioner import murmur2

import certification.service as service_module
from binhchon_kit.eventstore_mongo import event_content
from binhchon_kit.testing.fixtures import eventually

pytestmark = pytest.mark.integration
PARTITIONS = 3  # the test topics' (binhchon_kit.testing.fixtures)
HANGING = PARTITIONS - 1


def partition_of(dossier_id: str) -> int:
    """Where the relay's producer puts the dossier's events (aiokafka's default partitioner, keyed by subject)."""
    return (murmur2(dossier_id.encode()) & 0x7FFFFFFF) % PARTITIONS


def two_per_partition() -> list[str]:
    chosen: dict[int, list[str]] = {p: [] for p in range(PARTITIONS)}
    n = 0
    while any(len(ids) < 2 for ids in chosen.values()):
        dossier = f"dossier-{n}"
        if len(chosen[partition_of(dossier)]) < 2:
            chosen[partition_of(dossier)].append(dossier)
        n += 1
    return [dossier for ids in chosen.values() for dossier in ids]


async def issued(env: Any) -> list[dict[str, Any]]:
    return [event_content(doc) for doc in await env.db["events"].find({"type": "certificate.issued"}).to_list()]


async def numbers_claimed(env: Any) -> int:
    """Certificate numbers claimed (the revocation lists' positions are claimed from a sequence too)."""
    return await env.db["sequence_claims"].count_documents({"_id": {"$regex": "^OCOP-"}})


@pytest.mark.timeout(420)
async def test_a_stop_mid_batch_issues_every_certificate_once_under_gap_free_numbers(env, monkeypatch):
    dossiers = two_per_partition()
    await env.approve(*(env.result(d, product=f"Sản phẩm {d}", registration=f"24{i:08d}")
                        for i, d in enumerate(dossiers)))
    real_record = service_module.record
    hanging: list[str] = []
    never = asyncio.Event()

    async def store_stops_answering(*args: Any, **kwargs: Any) -> Any:
        # the first certificates to reach the store hang there, numbered and not recorded
        if type(args[3]).__name__ == "CertificateIssued" and len(hanging) < HANGING:
            hanging.append(args[6])
            await never.wait()
        return await real_record(*args, **kwargs)

    monkeypatch.setattr(service_module, "record", store_stops_answering)
    async with env.running():
        async def some_hang_the_others_issued() -> bool:
            # each hanging certificate holds its partition's second dossier behind it; the other partition
            # issues its two meanwhile: two certificates, four numbers claimed
            claims = await numbers_claimed(env)
            return len(hanging) == HANGING and len(await issued(env)) == 2 and claims == HANGING + 2

        await eventually(some_hang_the_others_issued, timeout=240, what="two certificates hanging, two issued")
    # stopped: those in flight cancelled between their number's claim and their record
    assert {partition_of(d) for d in hanging}.isdisjoint(
        {partition_of(e["subject"]) for e in await issued(env)})
    monkeypatch.setattr(service_module, "record", real_record)

    async with env.running():
        async def all_issued() -> list[dict[str, Any]] | None:
            events = await issued(env)
            return events if len(events) == len(dossiers) else None

        events = await eventually(all_issued, timeout=240, what="every dossier's certificate")
    assert Counter(e["subject"] for e in events) == Counter(dossiers)  # one certificate each
    numbers = sorted(e["data"]["number"] for e in events)
    assert numbers == [f"OCOP-UBNDTBG-2026-{n:05d}" for n in range(1, len(dossiers) + 1)]
    assert await numbers_claimed(env) == len(dossiers)  # no number claimed and lost
