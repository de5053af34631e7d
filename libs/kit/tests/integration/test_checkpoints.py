"""Signed checkpoints on the real broker and store (FerretDB on PostgreSQL in the fixtures), ADR 0022.

A service's app (the kit's, with no service of its own) relays events to Kafka and gives each its leaf; an
auditor records checkpoints over HTTP, finds them on ``log.checkpoints``, and verifies inclusion and consistency
proofs with ``binhchon_kit.transparency`` alone: the JSON answers and the JWKS. Then an intruder with write
access to the database alters an event, rewrites a stream with a consistent chain, or deletes a stream's last
events (and the leaves, to cover it up): the next check fails and names what was done.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.canonical import chain_hash
from binhchon_kit.checkpoints import LEAVES, checkpoint_stream
from binhchon_kit.eventstore import event_key, verify_chain
from binhchon_kit.eventstore_mongo import MongoEventStore, _to_document, from_document
from binhchon_kit.leaf_ids import LAST, leaf_id
from binhchon_kit.relay import Relay
from binhchon_kit.runtime import build_runtime
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.signing import Signer
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.transparency import LogTampered, event_leaf, verify_checkpoint, verify_consistency, verify_inclusion
from binhchon_kit.web import create_app

pytestmark = pytest.mark.integration
STREAMS = ("dossier-a", "dossier-b")


def _pem() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


@pytest.fixture
async def service(infra, topic_prefix, unique, dev_keys):
    settings = ServiceSettings(
        service_name="intake", mongodb_url=infra.mongodb, mongodb_database=f"kit_log_{unique}",
        kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix, consumers_enabled=False,
        auth_public_keys_file=str(dev_keys[1]), log_signing_key=_pem(), log_checkpoint_seconds=3600)
    app = create_app(build_runtime(settings, {}), title="log test")
    async with running(app, "http://intake") as client:
        yield client


async def _leaves(runtime: Any, count: int) -> int:
    async def reached() -> int | None:
        size = await runtime.checkpoints.size()
        return size if size >= count else None

    return await eventually(reached, what=f"{count} leaves")


async def _checkpoint(client: Any, auth: Any) -> dict[str, Any]:
    answer = await client.post("/log/checkpoints", headers=auth("auditor-1", "auditor"))
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def _inclusion(client: Any, auth: Any, event_id: str, size: int) -> dict[str, Any]:
    answer = await client.get("/log/proofs/inclusion", params={"event_id": event_id, "tree_size": size},
                              headers=auth("auditor-1", "auditor"))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def _consistency(client: Any, auth: Any, first: int, second: int) -> Any:
    return await client.get("/log/proofs/consistency", params={"first": first, "second": second},
                            headers=auth("auditor-1", "auditor"))


async def _grown_and_checkpointed(client: Any, auth: Any) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """Ten events and a checkpoint over them; three more and a second checkpoint (over the first one too)."""
    store = client.app.state.runtime.store
    events = [e for s in STREAMS for e in await grow(store, s, 5)]
    await _leaves(client.app.state.runtime, 10)
    first = await _checkpoint(client, auth)
    events += await grow(store, STREAMS[0], 3, start=5)
    await _leaves(client.app.state.runtime, 14)  # and the first checkpoint's own leaf
    second = await _checkpoint(client, auth)
    return events, first, second


async def test_checkpoints_are_signed_published_and_proved_to_an_auditor_holding_only_the_jwks(
        service, auth, infra, topic_prefix):
    client = service
    events, first, second = await _grown_and_checkpointed(client, auth)
    assert (first["tree_size"], second["tree_size"]) == (10, 14)
    jwks = (await client.get("/log/jwks.json")).json()  # public: no token
    verify_checkpoint(first, jwks)
    verify_checkpoint(second, jwks)
    with pytest.raises(LogTampered, match="signature does not match"):
        verify_checkpoint({**first, "tree_size": 9}, jwks)

    # the auditor role only
    assert (await client.post("/log/checkpoints")).status_code == 401
    assert (await client.post("/log/checkpoints", headers=auth("sec-1", "secretariat"))).status_code == 403
    assert (await client.get("/log/checkpoints", headers=auth("sec-1", "secretariat"))).status_code == 403
    listed = (await client.get("/log/checkpoints", headers=auth("auditor-1", "auditor"))).json()
    assert listed == [first, second]
    assert (await client.get("/log/checkpoints/latest", headers=auth("auditor-1", "auditor"))).json() == second

    # published: on log.checkpoints, as signed, and the events on their own topic
    async with TopicReader(infra.kafka, f"{topic_prefix}log.checkpoints") as reader:
        published = await reader.wait_for(lambda es: len(es) >= 2, what="two checkpoints")
    assert [e.data for e in published] == [first, second]
    assert {e.type for e in published} == {"log.checkpoint"}
    async with TopicReader(infra.kafka, f"{topic_prefix}intake.events") as reader:
        on_kafka = await reader.wait_for(lambda es: len(es) >= 13, what="the 13 events")

    # every event, and the first checkpoint, is in the second tree: the leaf from the auditor's Kafka copy
    for event in [*on_kafka, published[0]]:
        verify_inclusion(await _inclusion(client, auth, event.id, 14), second, jwks, event_hash=event.hash)
    # the first ten are in the first tree; the later ones are not
    for event in events[:10]:
        verify_inclusion(await _inclusion(client, auth, event.id, 10), first, jwks)
    late = await client.get("/log/proofs/inclusion", params={"event_id": events[-1].id, "tree_size": 10},
                            headers=auth("auditor-1", "auditor"))
    assert late.status_code == 404
    answer = await _consistency(client, auth, 10, 14)
    verify_consistency(answer.json(), first, second, jwks)
    with pytest.raises(LogTampered, match="does not extend"):
        verify_consistency({**answer.json(), "proof": answer.json()["proof"][::-1]}, first, second, jwks)
    assert (await _consistency(client, auth, 10, 99)).status_code == 404

    # a quiet log gets no periodic checkpoint (its own leaf is not news); a grown one does
    checkpoints = client.app.state.runtime.checkpoints
    await _leaves(client.app.state.runtime, 15)
    assert await checkpoints.record_if_grown() is None
    await grow(client.app.state.runtime.store, STREAMS[1], 1, start=5)
    await _leaves(client.app.state.runtime, 16)
    third = await checkpoints.record_if_grown()
    assert third is not None and third.data["tree_size"] == 16


async def _rewrite(store: MongoEventStore, stream: str, version: int, reason: str) -> None:
    """An intruder's edit: the event's data changed and its hash recomputed, so the chain check of that event
    alone passes."""
    doc = await store.events.find_one({"_id": event_key(stream, version)})
    event = from_document(doc)
    altered = replace(event, data={**event.data, "reason": reason})
    altered = replace(altered, hash=chain_hash(altered.prev_hash, altered.hashed_content()))
    new = _to_document(altered)
    for mark in ("unpublished", "unprojected"):
        new.pop(mark)
    await store.events.replace_one({"_id": new["_id"]}, new)


@pytest.mark.parametrize("tampering", ["altered", "rewritten", "truncated"])
async def test_history_changed_after_a_checkpoint_fails_the_next_check_and_is_named(service, auth, tampering):
    client = service
    runtime = client.app.state.runtime
    store: MongoEventStore = runtime.store
    events, first, second = await _grown_and_checkpointed(client, auth)
    jwks = (await client.get("/log/jwks.json")).json()
    leaves = runtime.db[LEAVES]
    auditor = auth("auditor-1", "auditor")

    if tampering == "altered":
        target = events[2]  # dossier-a v3
        await _rewrite(store, target.stream, target.version, "sửa lén")
        with pytest.raises(LogTampered, match=f"event {target.id} \\(dossier-a/0000000003\\).*altered"):
            verify_inclusion(await _inclusion(client, auth, target.id, 14), second, jwks)
        # the others still prove
        verify_inclusion(await _inclusion(client, auth, events[1].id, 14), second, jwks)
        return

    if tampering == "rewritten":
        # dossier-b rewritten from v1 with a consistent chain, and its leaves made to match
        await store.events.delete_many({"stream": "dossier-b"})
        await store.drop_pages("dossier-b")
        forger = MongoEventStore(store.db, source=store.source)
        forged = await grow(forger, "dossier-b", 5, start=0)
        assert verify_chain(await MongoEventStore(store.db, store.source, pages=False).read_stream("dossier-b")) == []
        for old, new in zip(events[5:10], forged, strict=True):
            await leaves.update_one({"event": event_key(old.stream, old.version)},
                                    {"$set": {"hash": new.hash, "event_id": new.id}})
        for old, new in zip(events[5:10], forged, strict=True):
            with pytest.raises(LogTampered, match=f"event {new.id} \\(dossier-b/{new.version:010d}\\)"):
                verify_inclusion(await _inclusion(client, auth, new.id, 14), second, jwks)
            assert (await client.get("/log/proofs/inclusion", params={"event_id": old.id, "tree_size": 14},
                                     headers=auditor)).status_code == 404  # the original is gone from the log
        with pytest.raises(LogTampered, match=r"checkpoints of 10 and 14 events.*rewritten or cut short"):
            verify_consistency((await _consistency(client, auth, 10, 14)).json(), first, second, jwks)
        refused = await client.post("/log/checkpoints", headers=auditor)
        assert refused.status_code == 503 and "altered" in refused.json()["detail"]
        assert refused.json()["reason"] == "log_damaged" and refused.json()["origin"] == "/binhchon/intake"
        return

    # truncated: dossier-a's last two events deleted, first from the store alone, then with their leaves. First
    # the relay is let finish: the second checkpoint's own event takes leaf 14, and had it been still on its way
    # when the leaves are cut, the relay would give it leaf 11 in the middle of what this test asserts (the
    # consistency proof then answered 503 for the leaf's content, not 404 for the size: failed CI once)
    await _leaves(runtime, 15)

    async def relayed() -> bool | None:
        return True if not await store.pending_events("outbox", 1) else None

    await eventually(relayed, what="every event published")
    last = events[11:13]
    for event in last:
        await store.events.delete_one({"_id": event_key(event.stream, event.version)})
    for event in last:
        with pytest.raises(LogTampered, match=f"event {event.id} .*no longer has the event"):
            verify_inclusion(await _inclusion(client, auth, event.id, 14), second, jwks)
    # the log cut back to leaf 11 (ten events, checkpoint 1)
    await leaves.delete_many({"_id": {"$gte": leaf_id(11), "$lte": LAST}})
    cut = await _consistency(client, auth, 10, 14)
    assert cut.status_code == 404 and "has 11 events, not 14" in cut.json()["detail"]
    refused = await client.post("/log/checkpoints", headers=auditor)
    # named as cut short, or, when the relay has meanwhile given a later event the next index, as a missing leaf
    detail = refused.json()["detail"]
    assert refused.status_code == 503 and ("cut short" in detail or "has no leaf 11" in detail), detail
    assert refused.json()["reason"] == "log_damaged"
    # a leaf missing below the size: no proof can be made, and the answer names why (503, never a 500)
    await leaves.delete_one({"_id": leaf_id(3)})
    gap = await _consistency(client, auth, 2, 10)
    assert gap.status_code == 503 and gap.json()["reason"] == "log_damaged", gap.text
    assert "has no leaf 3" in gap.json()["detail"]


async def test_a_relay_crashing_between_the_leaves_and_the_marks_leaves_no_gap_and_no_duplicate(
        merkle_log, infra, topic_prefix):
    store, db, log = merkle_log
    signer = log().signer
    events = [e for s in STREAMS for e in await grow(store, s, 4)]

    class Crash(Exception):
        pass

    async def crash(_: object) -> None:
        raise Crash("the relay died after the leaves, before the marks")

    crashing = Relay(store, infra.kafka, client_id="log-relay-1", topic_prefix=topic_prefix, checkpoints=log(),
                     signer=signer,
                     before_mark=crash)
    with pytest.raises(Crash):
        await crashing.publish_pending()
    await crashing._drop_producer()
    assert len(await store.unpublished(100)) == 8  # no mark removed: they go again
    more = await grow(store, "dossier-c", 2)  # and new ones come meanwhile

    # the restarted relay, and a second process adding the same events at once (a lease taken over)
    restarted = Relay(store, infra.kafka, client_id="log-relay-2", topic_prefix=topic_prefix, checkpoints=log(),
                      signer=signer)
    await asyncio.gather(restarted.publish_pending(), log().add(list(reversed(events[:4]))))
    await restarted._drop_producer()
    assert await store.unpublished(100) == []

    docs = await db[LEAVES].find({}, sort=[("_id", 1)]).to_list()
    assert [d["_id"] for d in docs] == [leaf_id(i) for i in range(10)], "leaves are numbered without a gap"
    keys = [d["event"] for d in docs]
    assert sorted(keys) == sorted(event_key(e.stream, e.version) for e in events + more), "each event once"
    assert keys[:8] == [event_key(e.stream, e.version) for e in events], "the first pass's order stands"
    assert [d["hash"] for d in docs] == [e.hash for e in events + more]
    # and the tree over them is what a checkpoint signs
    recorded = await log().record()
    assert recorded is not None and recorded.stream == checkpoint_stream(recorded.source)
    from binhchon_kit.merkle import root

    assert recorded.data["root_hash"] == root([event_leaf(e.hash) for e in events + more]).hex()
    assert json.loads(json.dumps(recorded.data))["tree_size"] == 10


async def test_a_rotated_log_key_leaves_old_checkpoints_verifiable(infra, topic_prefix, unique, dev_keys, auth,
                                                                   tmp_path):
    """A checkpoint signed with the old key; the service restarted with a new key and the old public key listed as
    retired: the JWKS holds both, each checkpoint verifies by its key_id, and the next one is signed by the new."""
    old, new = _pem(), _pem()
    retired = tmp_path / "log-2026-old.pub.pem"
    retired.write_bytes(Signer.from_pem(old.encode()).public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def app(key: str, **more: Any) -> Any:
        settings = ServiceSettings(
            service_name="intake", mongodb_url=infra.mongodb, mongodb_database=f"kit_rotate_{unique}",
            kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix, consumers_enabled=False,
            auth_public_keys_file=str(dev_keys[1]), log_signing_key=key, log_checkpoint_seconds=3600, **more)
        return running(create_app(build_runtime(settings, {}), title="rotation"), "http://intake")

    async with app(old) as client:
        await grow(client.app.state.runtime.store, "dossier-a", 2)
        await _leaves(client.app.state.runtime, 2)
        before = await _checkpoint(client, auth)
    async with app(new, log_retired_public_key_files=str(retired)) as client:
        await _leaves(client.app.state.runtime, 3)
        after = await _checkpoint(client, auth)
        jwks = (await client.get("/log/jwks.json")).json()
    kids = [k["kid"] for k in jwks["keys"]]
    assert kids == [after["key_id"], before["key_id"]] and before["key_id"] != after["key_id"]
    verify_checkpoint(before, jwks)
    verify_checkpoint(after, jwks)
    with pytest.raises(LogTampered, match="no public key with id"):
        verify_checkpoint(before, {"keys": jwks["keys"][:1]})  # without the retired key, the old one cannot be
