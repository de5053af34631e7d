"""``binhchon-audit verify`` checks signed checkpoints from Kafka alone, on the real broker and server: a service's
relay publishes its events and two checkpoints (recorded by an auditor over HTTP between passes); verify, given
the service's /log/jwks.json, rebuilds the log in publication order from the records and passes. Then copies of
the topics (timestamps kept, as Kafka kept them) with a forged checkpoint, an unsigned one, a stream rewritten
after the first checkpoint with a consistent chain, and a stream's last events dropped: each is named, with the
checkpoint's event id, and verify exits 1.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.runtime import build_runtime
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.topic_history import Record
from binhchon_kit.topics import all_topics, ensure_topics
from binhchon_kit.web import create_app
from binhchon_tools import audit
from binhchon_tools.audit_decisions import recorded
from binhchon_tools.audit_hash import GENESIS, seal
from binhchon_tools.audit_topics import read_records, service_topics, unprefixed

pytestmark = pytest.mark.integration


def _pem() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
async def published(infra, dev_keys, tmp_path_factory) -> dict[str, Any]:
    """intake's log on the topics: 7 events, checkpoint 1 (7), 5 more, checkpoint 2 (13), 2 more: 16 in all."""
    import uuid

    from binhchon_kit.auth.devtoken import mint

    unique = uuid.uuid4().hex[:10]
    prefix = f"c{unique}."
    await ensure_topics(infra.kafka, all_topics(prefix), partitions=3)
    settings = ServiceSettings(
        service_name="intake", mongodb_url=infra.mongodb, mongodb_database=f"audit_log_{unique}",
        kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=prefix, consumers_enabled=False,
        auth_public_keys_file=str(dev_keys[1]), log_signing_key=_pem(), log_checkpoint_seconds=3600)
    auditor = {"Authorization": f"Bearer {mint(dev_keys[0].read_bytes(), subject='kt-1', roles=['auditor'])}"}
    jwks = tmp_path_factory.mktemp("log-jwks") / "intake.json"
    async with running(create_app(build_runtime(settings, {}), title="audit log"), "http://intake") as client:
        runtime = client.app.state.runtime

        async def leaves(count: int) -> None:
            async def reached() -> bool | None:
                return await runtime.checkpoints.size() >= count or None
            await eventually(reached, what=f"{count} leaves")

        async def checkpoint() -> dict[str, Any]:
            answer = await client.post("/log/checkpoints", headers=auditor)
            assert answer.status_code == 201, answer.text
            return answer.json()  # type: ignore[no-any-return]

        store = runtime.store
        await grow(store, "dossier-a", 4)
        await grow(store, "dossier-b", 3)
        await leaves(7)
        first = await checkpoint()
        await grow(store, "dossier-a", 3, start=4)
        await grow(store, "dossier-c", 2)
        await leaves(13)
        second = await checkpoint()
        await grow(store, "dossier-b", 2, start=3)
        await leaves(16)

        async def all_published() -> bool | None:
            return not await store.unpublished(1) or None
        await eventually(all_published, what="every event on its topic")
        jwks.write_text((await client.get("/log/jwks.json")).text, encoding="utf-8")
    assert (first["tree_size"], second["tree_size"]) == (7, 13)
    return {"kafka": infra.kafka, "prefix": prefix, "jwks": jwks, "first": first, "second": second,
            "admin": infra.kafka_client("admin")}  # the tamperer writes as the broker's super user


async def verify(log: dict[str, Any], prefix: str, capsys: pytest.CaptureFixture[str], *more: str
                 ) -> tuple[int, dict[str, Any]]:
    status = await audit.run(audit.build_parser().parse_args([
        "verify", "--bootstrap-servers", log["kafka"], "--topic-prefix", prefix, "--workers", "0", "--json",
        "--log-jwks", f"intake={log['jwks']}", *more]))
    found: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return status, found


Change = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


async def copy(log: dict[str, Any], name: str, change: Change) -> str:
    """The topics copied to a set of their own through ``change`` (given and giving events with their record,
    ``{"record": Record, "event": dict}``), each record keeping its topic and its producer's timestamp."""
    records: list[Record] = [r async for batch in read_records(log["kafka"], service_topics(log["prefix"]))
                             for r in batch]
    items = change([{"record": r, "event": json.loads(r.value)} for r in records])
    to = f"{log['prefix']}{name}."
    await ensure_topics(log["kafka"], all_topics(to), partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=log["kafka"], **log["admin"])
    await producer.start()
    try:
        for item in items:
            record = item["record"]
            await producer.send_and_wait(to + unprefixed(record.topic, log["prefix"]),
                                         json.dumps(item["event"], ensure_ascii=False).encode(),
                                         key=str(item["event"]["subject"]).encode(), timestamp_ms=record.timestamp)
    finally:
        await producer.stop()
    return to


def resealed(items: list[dict[str, Any]], stream: str, edit: Callable[[dict[str, Any]], dict[str, Any] | None]
             ) -> list[dict[str, Any]]:
    """``stream``'s events passed through ``edit`` (its data, or None to drop the event), the chain resealed from
    the first one changed: every link and hash holds, as a forger with the means to rehash would leave it."""
    mine = sorted((i for i in items if i["event"]["streamid"] == stream), key=lambda i: i["event"]["streamversion"])
    prev, changed, out = GENESIS, False, {}
    for item in mine:
        event = recorded(item["event"])
        data = edit(event.data)
        if data is None:
            out[id(item)] = None
            continue
        if data != event.data or changed:
            changed = True
            event = seal(replace(event, data=data), prev)
            out[id(item)] = {**item, "event": json.loads(event.to_cloudevent().to_bytes())}
        prev = event.hash
    kept = [out.get(id(i), i) for i in items]
    return [i for i in kept if i is not None]


def checkpoint_ids(found: dict[str, Any]) -> list[str]:
    return [d["event_ids"][0] for d in found["discrepancies"] if d["check"] == "checkpoint"]


async def test_the_published_log_and_its_checkpoints_verify(published, capsys):
    status, found = await verify(published, published["prefix"], capsys)
    assert status == 0, found["discrepancies"]
    assert found["summary"]["checkpoints"] == 2 and found["summary"]["events"] == 16
    assert found["summary"]["signatures_checked"] == 16  # 14 events and the 2 checkpoints, each signed by intake
    assert not [n for n in found["notes"] if "checkpoint" in n]  # signatures checked: nothing left unchecked
    # without the keys: roots and consistency checked, the signatures said to be unchecked, never a silent pass
    status = await audit.run(audit.build_parser().parse_args([
        "verify", "--bootstrap-servers", published["kafka"], "--topic-prefix", published["prefix"],
        "--workers", "0", "--json"]))
    assert status == 0
    assert "2 checkpoint(s) of /binhchon/intake: signatures not checked" in capsys.readouterr().err


async def checkpoint_edited(log: dict[str, Any], name: str, size: int, edit: Callable[[dict[str, Any]], dict[str, Any]]
                            ) -> str:
    def change(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return resealed(items, "log-checkpoints-intake", lambda d: edit(d) if d["tree_size"] == size else d)
    return await copy(log, name, change)


async def test_a_forged_checkpoint_is_named(published, capsys):
    prefix = await checkpoint_edited(published, "forged", 13, lambda d: {**d, "tree_size": 12})
    status, found = await verify(published, prefix, capsys)
    assert status == 1
    assert not [d for d in found["discrepancies"] if d["check"] in ("chain", "hash")]  # resealed: links hold
    signature, root = [d["message"] for d in found["discrepancies"] if d["check"] == "checkpoint"]
    assert signature.startswith("checkpoint v2 (12 events): the signature does not verify")
    assert root.startswith("checkpoint v2 (12 events): the first 12 events")  # nor is it the topics' root
    assert len(set(checkpoint_ids(found))) == 1  # both name the forged checkpoint's event


async def test_an_unsigned_checkpoint_is_named(published, capsys):
    prefix = await checkpoint_edited(published, "unsigned", 7, lambda d: {**d, "signature": ""})
    status, found = await verify(published, prefix, capsys)
    assert status == 1
    unsigned, covering = [d for d in found["discrepancies"] if d["check"] == "checkpoint"]
    assert unsigned["message"] == "checkpoint v1 (7 events) is not signed"
    # the forger could not sign the events it resealed either (the edited checkpoint and the one after it)
    resealed_events = [d for d in found["discrepancies"] if d["check"] == "signature"]
    assert {d["event_ids"][0] for d in resealed_events} == {unsigned["event_ids"][0], covering["event_ids"][0]}
    assert all("not signed by its producer" in d["message"] for d in resealed_events)
    # and the second checkpoint, which covers the first one's leaf, no longer has the topics' root either
    assert covering["message"].startswith("checkpoint v2 (13 events): the first 13 events")
    assert unsigned["event_ids"][0] != covering["event_ids"][0]


async def test_a_stream_rewritten_after_a_checkpoint_is_named(published, capsys):
    # dossier-a's versions 5..7, published between the two checkpoints, rewritten with a consistent chain
    prefix = await copy(published, "rewritten", lambda items: resealed(
        items, "dossier-a", lambda d: {**d, "reason": "sửa lén"} if d["reason"] in ("lý do 4", "lý do 5") else d))
    status, found = await verify(published, prefix, capsys)
    assert status == 1
    assert not [d for d in found["discrepancies"] if d["check"] in ("chain", "hash")], found["discrepancies"]
    [rewritten] = [d for d in found["discrepancies"] if d["check"] == "checkpoint"]
    assert rewritten["message"].startswith("checkpoint v2 (13 events): the first 13 events of /binhchon/intake")
    assert "events 8..13 of its log" in rewritten["message"] and len(rewritten["event_ids"]) == 3
    # every event the forger resealed lost its producer's signature: each is named
    unsigned = [d for d in found["discrepancies"] if d["check"] == "signature"]
    assert len(unsigned) == 3 and all("not signed by its producer" in d["message"] for d in unsigned)


async def test_an_event_signed_by_another_key_is_named(published, capsys):
    other = Ed25519PrivateKey.generate()

    def forged(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        first = next(i for i in items if i["event"]["streamid"] == "dossier-b")
        event = first["event"]
        signature = base64.urlsafe_b64encode(other.sign(event["hash"].encode())).rstrip(b"=").decode()
        return [{**i, "event": {**event, "signature": signature}} if i is first else i for i in items]

    prefix = await copy(published, "resigned", forged)
    status, found = await verify(published, prefix, capsys)
    assert status == 1
    [bad] = found["discrepancies"]  # content, chain and checkpoints hold: only the signature is wrong
    assert bad["check"] == "signature" and "is not intake's key" in bad["message"]


async def test_a_streams_last_events_dropped_after_a_checkpoint_are_named(published, capsys):
    # dossier-a's last two events (published before checkpoint 2) gone from every topic: no chain can tell
    prefix = await copy(published, "cut", lambda items: resealed(
        items, "dossier-a", lambda d: None if d["reason"] in ("lý do 5", "lý do 6") else d))
    status, found = await verify(published, prefix, capsys)
    assert status == 1
    assert not [d for d in found["discrepancies"] if d["check"] in ("chain", "hash")], found["discrepancies"]
    [cut] = [d for d in found["discrepancies"] if d["check"] == "checkpoint"]
    assert cut["message"].startswith("checkpoint v2 (13 events): the first 13 events")
