"""The hash scheme of the published contract (``hashalg: cloudevent-jcs-sha256``), on the memory driver: the hash
is a function of the CloudEvent an agency receives, recomputable with rfc8785 and hashlib alone; events recorded
the legacy way still verify, also when a stream continues under the new scheme; the envelope schema."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from binhchon_kit.canonical import GENESIS_HASH, HASH_ALG, LEGACY_HASH_ALG, chain_hash
from binhchon_kit.contracts.intake import DossierWithdrawn
from binhchon_kit.envelope import CloudEvent
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent, hashed_content
from binhchon_kit.eventstore import verify_chain
from binhchon_kit.eventstore_memory import MemoryEventStore

CONTRACT = Path(__file__).resolve().parents[4] / "docs" / "contract"
STREAM = "dossier-hash-scheme"
PRODUCER = Actor("htx-dong-hung", ("applicant",))
# the attributes as the published contract lists them (docs/contract/hash-chain.md), written out, not imported
PUBLISHED_ATTRIBUTES = ("specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema",
                        "data", "correlationid", "causationid", "actorid", "actorroles", "streamid",
                        "streamversion", "prevhash", "hashalg")


def wire(event: RecordedEvent) -> dict[str, Any]:
    """The event as an agency reads it off the topic: the bytes the relay publishes, parsed."""
    value: dict[str, Any] = json.loads(event.to_cloudevent().to_bytes())
    return value


def recomputed(value: dict[str, Any]) -> str:
    return hashlib.sha256(rfc8785.dumps({k: value[k] for k in PUBLISHED_ATTRIBUTES if k in value})).hexdigest()


async def withdraw(store: MemoryEventStore, version: int, reason: str) -> RecordedEvent:
    return await store.append(STREAM, version, NewEvent(DossierWithdrawn(reason=reason)), subject=STREAM,
                              actor=PRODUCER, cause=Cause("corr-1", f"request-{version}"))


def legacy(version: int, prev_hash: str, reason: str) -> RecordedEvent:
    """An event as the store recorded it before ``hashalg``: hashed over the store's field names."""
    fields: dict[str, Any] = dict(
        id=f"legacy-{version}", stream=STREAM, version=version, type="dossier.withdrawn", schema_version=1,
        subject=STREAM, time=datetime(2025, 3, 1, 1, 30, version, 123000, tzinfo=UTC), data={"reason": reason},
        actor=PRODUCER, correlation_id="corr-0", causation_id=f"cause-{version}", source="/binhchon/test")
    return RecordedEvent(**fields, prev_hash=prev_hash, hash=chain_hash(prev_hash, hashed_content(**fields)))


async def test_an_appended_event_is_hashed_over_its_published_cloudevent():
    store = MemoryEventStore("/binhchon/test")
    first = await withdraw(store, 0, "Chưa đủ sản lượng")
    second = await withdraw(store, 1, "Đổi ý")
    assert (first.hash_alg, second.hash_alg) == (HASH_ALG, HASH_ALG)
    published = [wire(first), wire(second)]
    assert [v["hashalg"] for v in published] == ["cloudevent-jcs-sha256"] * 2
    assert [recomputed(v) for v in published] == [first.hash, second.hash]
    assert published[0]["prevhash"] == GENESIS_HASH and published[1]["prevhash"] == first.hash
    assert verify_chain(await store.read_stream(STREAM)) == []


async def test_a_legacy_stream_still_verifies_and_continues_under_the_new_scheme():
    store = MemoryEventStore("/binhchon/test")
    one = legacy(1, GENESIS_HASH, "Lý do một")
    two = legacy(2, one.hash, "Lý do hai")
    store.streams[STREAM] = [one, two]  # recorded before the upgrade, kept as they are
    three = await withdraw(store, 2, "Lý do ba")
    events = await store.read_stream(STREAM)
    assert [e.hash_alg for e in events] == [LEGACY_HASH_ALG, LEGACY_HASH_ALG, HASH_ALG]
    assert events[:2] == [one, two]  # not rehashed
    assert three.prev_hash == two.hash and verify_chain(events) == []
    # on the wire a legacy event carries no hashalg, and reads back as legacy
    assert "hashalg" not in wire(one)
    back = RecordedEvent.from_cloudevent(CloudEvent.from_bytes(one.to_cloudevent().to_bytes()))
    assert back == one and back.verify_hash()
    # the legacy formula as the contract spells it, from the published attributes
    value = wire(two)
    content = {"id": value["id"], "stream": value["streamid"], "version": value["streamversion"],
               "type": value["type"], "schema_version": 1, "subject": value["subject"], "time": value["time"],
               "data": value["data"], "actor": {"id": value["actorid"], "roles": value["actorroles"].split(",")},
               "correlation_id": value["correlationid"], "causation_id": value["causationid"],
               "source": value["source"]}
    assert hashlib.sha256(value["prevhash"].encode() + rfc8785.dumps(content)).hexdigest() == two.hash


@pytest.mark.parametrize("attribute, other", [
    ("id", "another-id"), ("source", "/binhchon/scoring"), ("type", "dossier.rejected"), ("subject", "dossier-x"),
    ("time", "2025-03-01T01:30:00.124Z"), ("dataschema", "https://schemas.binhchon.vn/events/dossier.withdrawn/v2.json"),
    ("data", {"reason": "Sửa lén"}), ("correlationid", "corr-x"), ("causationid", "cause-x"), ("actorid", "admin"),
    ("actorroles", "applicant,admin"), ("streamid", "dossier-y"), ("streamversion", 2), ("prevhash", "f" * 64),
])
async def test_every_published_attribute_is_hashed(attribute, other):
    store = MemoryEventStore("/binhchon/test")
    event = await withdraw(store, 0, "Chưa đủ sản lượng")
    value = {**wire(event), attribute: other}
    assert recomputed(value) != event.hash
    assert not RecordedEvent.from_cloudevent(CloudEvent.model_validate(value)).verify_hash()


async def test_an_extension_picked_up_on_the_way_is_kept_and_not_hashed():
    store = MemoryEventStore("/binhchon/test")
    event = await withdraw(store, 0, "Chưa đủ sản lượng")
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    received = CloudEvent.from_bytes(json.dumps({**wire(event), "traceparent": traceparent}).encode())
    assert received.to_json()["traceparent"] == traceparent
    assert RecordedEvent.from_cloudevent(received).verify_hash()


async def test_a_removed_or_unknown_scheme_marker_does_not_verify():
    store = MemoryEventStore("/binhchon/test")
    event = await withdraw(store, 0, "Chưa đủ sản lượng")
    downgraded = dataclasses.replace(event, hash_alg=LEGACY_HASH_ALG)  # hashalg stripped off the wire
    assert verify_chain([downgraded]) == [f"{STREAM} v1: content does not match its hash"]
    unknown = dataclasses.replace(event, hash_alg="md5")
    assert verify_chain([unknown]) == [f"{STREAM} v1: unknown hash scheme 'md5'"]


def test_the_published_worked_example_recomputes_with_rfc8785_and_hashlib_alone():
    text = (CONTRACT / "hash-chain.md").read_text(encoding="utf-8")
    example = json.loads(re.search(r"```json\n(.*?)\n```", text, re.S)[1])  # type: ignore[index]
    canonical = re.search(r"```\n(\{.*?)\n```", text, re.S)[1]  # type: ignore[index]
    assert rfc8785.dumps({k: example[k] for k in PUBLISHED_ATTRIBUTES if k in example}) == canonical.encode()
    assert recomputed(example) == example["hash"]
    assert f"`{example['hash']}`" in text
    assert all(f"`{name}`" in text for name in PUBLISHED_ATTRIBUTES)


# ---- the envelope schema ----------------------------------------------------------------------------------

def envelope_validator() -> Draft202012Validator:
    schema = json.loads((CONTRACT / "schemas" / "cloudevent.v1.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


async def published_event() -> dict[str, Any]:
    store = MemoryEventStore("/binhchon/test")
    return wire(await withdraw(store, 0, "Chưa đủ sản lượng"))


async def test_the_envelope_schema_accepts_a_published_event_and_unknown_extensions():
    validator = envelope_validator()
    event = await published_event()
    assert list(validator.iter_errors(event)) == []
    traced = {**event, "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
              "tracestate": "vendor=1", "sampled": True, "hops": 3}
    assert list(validator.iter_errors(traced)) == []
    legacy_event = wire(legacy(1, GENESIS_HASH, "Lý do"))
    assert "hashalg" not in legacy_event and list(validator.iter_errors(legacy_event)) == []


async def test_the_envelope_schema_requires_specversion_and_cloudevents_extension_names():
    validator = envelope_validator()
    event = await published_event()
    without = {k: v for k, v in event.items() if k != "specversion"}
    assert [e.message for e in validator.iter_errors(without)] == ["'specversion' is a required property"]
    with pytest.raises(ValidationError, match="specversion"):
        CloudEvent.model_validate(without)
    assert list(validator.iter_errors({**event, "Trace-Parent": "x"}))  # not a CloudEvents attribute name
    assert list(validator.iter_errors({**event, "traceparent": None}))  # attribute values are never null
