"""The integrators' contract (docs/contract) is generated from the code, is valid, and is up to date; a
published event schema changes only compatibly unless its schema version changes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from binhchon_kit.canonical import GENESIS_HASH
from binhchon_kit.contracts import event_model, event_types, export
from binhchon_kit.envelope import schema_uri
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.topics import SERVICE_TOPICS, dead_letter_topic

REPO = Path(__file__).resolve().parents[4]
CONTRACT = REPO / "docs" / "contract"
Draft202012Validator = jsonschema.Draft202012Validator


def dossier_received() -> dict[str, Any]:
    return {
        "dossier_id": "d-1",
        "round_id": "r-1",
        "round_code": "OCOP-HN-2025-1",
        "programme": "OCOP",
        "level": "district",
        "receipt_number": "BN-2025-0001",
        "received_at": "2025-03-01T08:30:00.123Z",
        "check_due_date": "2025-03-06",
        "producer": {
            "kind": "cooperative",
            "name": "Hợp tác xã Chè Tân Cương",
            "registration_number": "4601234567",
            "address": {
                "commune": "Tân Cương", "district": "TP Thái Nguyên", "province": "Thái Nguyên",
                "province_code": "19",
            },
            "contact": {"person": "Nguyễn Thị Hoa", "phone": "+84 912 345 678", "email": "hoa@example.vn"},
        },
        "product": {"name": "Chè búp Tân Cương", "product_group": "chè", "sample_count": 3},
        "documents": [
            {"kind": "registration_form", "file_name": "phieu-dang-ky.pdf", "size_bytes": 120_000,
             "sha256": "ab" * 32},
        ],
    }


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


# (a) every registered type has a data schema under its dataschema URI


@pytest.mark.parametrize("registration", event_types(), ids=lambda r: r.type)
def test_every_registered_type_has_a_schema_with_its_dataschema_id(registration: Any) -> None:
    schema = export.event_schema(registration)
    assert schema["$id"] == schema_uri(registration.type, registration.schema_version)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] and schema["description"]
    Draft202012Validator.check_schema(schema)
    assert export.schema_file(registration) in export.generate()


def test_envelope_schema() -> None:
    schema = export.envelope_schema()
    assert schema["$id"] == "https://schemas.binhchon.vn/events/cloudevent/v1.json"
    Draft202012Validator.check_schema(schema)
    assert {"id", "type", "subject", "dataschema", "data", "hash"} <= set(schema["required"])


# (b) the exported schema accepts what the model accepts and refuses what it refuses


def test_a_valid_dossier_received_validates_against_the_exported_schema() -> None:
    data = dossier_received()
    event_model("dossier.received").model.model_validate(data)  # the example is valid for the code too
    validator(export.event_schema(event_model("dossier.received"))).validate(data)


def test_a_dossier_received_without_producer_fails() -> None:
    data = dossier_received()
    del data["producer"]
    with pytest.raises(jsonschema.ValidationError, match="producer"):
        validator(export.event_schema(event_model("dossier.received"))).validate(data)


def test_an_unknown_field_fails() -> None:
    data = dossier_received() | {"unexpected": 1}
    with pytest.raises(jsonschema.ValidationError):
        validator(export.event_schema(event_model("dossier.received"))).validate(data)


# (c) the AsyncAPI document


def test_asyncapi_document_maps_every_topic_and_type() -> None:
    doc = export.asyncapi()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "binhchon events"
    local = doc["servers"]["local"]
    assert (local["host"], local["protocol"]) == ("127.0.0.1:9092", "kafka")
    for header in ("dlq-reason", "dlq-handler", "dlq-source-topic", "dlq-source-partition",
                   "dlq-source-offset", "dlq-at"):
        assert header in doc["info"]["description"]
    channels = doc["channels"]
    addresses = {channel["address"] for channel in channels.values()}
    assert addresses == set(SERVICE_TOPICS) | {dead_letter_topic(t) for t in SERVICE_TOPICS}
    messages = doc["components"]["messages"]
    for registration in event_types():
        message = messages[registration.type]
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        assert message["payload"]["properties"]["type"]["const"] == registration.type
        assert registration.type in channels[registration.topic]["messages"]
        operation = doc["operations"][f"send.{registration.topic}"]
        assert operation["action"] == "send"
        ref = f"#/channels/{registration.topic}/messages/{registration.type}"
        assert {"$ref": ref} in operation["messages"]
    for topic in SERVICE_TOPICS:
        assert doc["operations"][f"send.{topic}"]["channel"] == {"$ref": f"#/channels/{topic}"}


def test_the_published_contract_tells_outside_readers_how_to_deduplicate_a_republished_event() -> None:
    # a relay that dies between the broker's ack and its publication mark publishes the event again (issue 14)
    committed = json.loads((CONTRACT / "asyncapi.json").read_text(encoding="utf-8"))
    description = committed["info"]["description"]
    delivery = next(line for line in description.splitlines() if line.startswith("- **Delivery**"))
    assert "relay that dies" in delivery and "publishes it again" in delivery
    assert "Deduplicate on the event `id`" in delivery and "Never deduplicate on the Kafka offset" in delivery


def test_asyncapi_references_resolve() -> None:
    doc = export.asyncapi()

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    for ref in refs(doc):
        assert ref.startswith("#/"), ref
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]


def test_an_event_as_the_relay_publishes_it_matches_its_asyncapi_message() -> None:
    registration = event_model("dossier.received")
    data = registration.model.model_validate(dossier_received()).model_dump(mode="json")
    event = RecordedEvent(
        id="0b8f6a8e-3f0e-4e0c-9a39-1d1c2f1f7a11", stream="dossier-d-1", version=1, type=registration.type,
        schema_version=registration.schema_version, subject="d-1",
        time=datetime(2025, 3, 1, 8, 30, tzinfo=UTC), data=data, actor=Actor("producer-1", ("applicant",)),
        correlation_id="c-1", causation_id="req-1",
        source="/binhchon/intake", prev_hash=GENESIS_HASH, hash="f" * 64,
    )
    value = json.loads(event.to_cloudevent().to_bytes())
    doc = export.asyncapi()
    schema = {"$ref": f"#/components/messages/{registration.type}/payload", "components": doc["components"]}
    validator(schema).validate(value)
    with pytest.raises(jsonschema.ValidationError):
        validator(schema).validate(value | {"type": "dossier.rejected"})


# (d) the committed contract is what the code generates


def test_committed_contract_is_up_to_date() -> None:
    problems = export.check(CONTRACT)
    assert problems == [], (
        "docs/contract differs from the code: run `uv run python -m binhchon_kit.contracts.export` "
        "(and bump the schema version of any event whose change is breaking):\n" + "\n".join(problems)
    )


def test_check_reports_a_stale_file(tmp_path: Path) -> None:
    export.write_all(tmp_path)
    assert export.check(tmp_path) == []
    assert export.main(["--out", str(tmp_path), "--check"]) == 0
    schema_path = tmp_path / "schemas" / "dossier.rejected.v1.json"
    edited = schema_path.read_text(encoding="utf-8").replace('"reason"', '"cause"')
    schema_path.write_text(edited, encoding="utf-8")
    (tmp_path / "asyncapi.json").unlink()
    problems = export.check(tmp_path)
    assert any("asyncapi.json: missing" in p for p in problems)
    assert any("dossier.rejected.v1.json: differs" in p for p in problems)
    assert export.main(["--out", str(tmp_path), "--check"]) == 1


def test_written_files_are_pretty_sorted_utf8(tmp_path: Path) -> None:
    paths = export.write_all(tmp_path)
    assert tmp_path / "asyncapi.json" in paths
    assert tmp_path / "schemas" / "cloudevent.v1.json" in paths
    assert tmp_path / "schemas" / "dossier.received.v4.json" in paths
    text = (tmp_path / "asyncapi.json").read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# (e) compatibility: a published schema version only changes compatibly


def test_committed_schemas_are_compatible_with_the_code() -> None:
    problems = export.compatibility(CONTRACT)
    assert problems == [], (
        "an event's data changed incompatibly without a new schema version:\n" + "\n".join(problems)
    )


def test_committed_required_fields_are_still_present_and_required() -> None:
    """The rule spelled out at the top level: for each committed schema file of a type at its registered
    version, every committed property is still there, every committed required one is still required, and
    no property became required. (``export.breaking_changes`` applies it to nested objects too.)"""
    registered = {r.type: r for r in event_types()}
    for path in sorted((CONTRACT / "schemas").glob("*.v*.json")):
        type_, _, version = path.name.removesuffix(".json").rpartition(".v")
        if type_ == "cloudevent":
            continue
        assert type_ in registered, f"{path.name}: event type no longer registered"
        registration = registered[type_]
        if int(version) != registration.schema_version:
            continue  # a new version: the old file is history
        committed = json.loads(path.read_text(encoding="utf-8"))
        current = export.event_schema(registration)
        committed_required = set(committed.get("required", []))
        current_required = set(current.get("required", []))
        assert set(committed["properties"]) <= set(current["properties"]), f"{path.name}: property dropped"
        assert committed_required <= current_required, f"{path.name}: a required property became optional"
        assert current_required <= committed_required, f"{path.name}: a property became required"


def published_dossier_received() -> dict[str, Any]:
    return copy.deepcopy(export.event_schema(event_model("dossier.received")))


def test_dropping_or_renaming_a_property_is_breaking() -> None:
    current = published_dossier_received()
    current["properties"]["receipt_no"] = current["properties"].pop("receipt_number")
    current["required"] = [n if n != "receipt_number" else "receipt_no" for n in current["required"]]
    problems = export.breaking_changes(published_dossier_received(), current)
    assert "data.receipt_number: removed or renamed" in problems
    assert "data.receipt_no: newly required" in problems


def test_dropping_a_nested_property_is_breaking() -> None:
    current = published_dossier_received()
    del current["$defs"]["ReceivedContact"]["properties"]["phone"]
    current["$defs"]["ReceivedContact"]["required"].remove("phone")
    assert export.breaking_changes(published_dossier_received(), current) == [
        "data.producer.contact.phone: removed or renamed"
    ]


def test_making_a_property_optional_or_required_is_breaking() -> None:
    current = published_dossier_received()
    current["required"].remove("check_due_date")
    current["$defs"]["Document"]["required"].append("note")
    current["$defs"]["Document"]["properties"]["note"] = {"type": "string"}
    assert export.breaking_changes(published_dossier_received(), current) == [
        "data.check_due_date: no longer required", "data.documents[].note: newly required"
    ]


def test_adding_an_optional_property_is_compatible() -> None:
    current = published_dossier_received()
    current["properties"]["channel"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert export.breaking_changes(published_dossier_received(), current) == []


def test_compatibility_skips_older_versions_and_flags_removed_types(tmp_path: Path) -> None:
    export.write_all(tmp_path)
    old = tmp_path / "schemas" / "dossier.rejected.v0.json"
    old.write_text(json.dumps({"properties": {"gone": {}}, "required": ["gone"]}), encoding="utf-8")
    assert export.compatibility(tmp_path) == []
    removed = tmp_path / "schemas" / "dossier.vanished.v1.json"
    removed.write_text("{}", encoding="utf-8")
    assert export.compatibility(tmp_path) == [
        f"{removed}: event type dossier.vanished is no longer registered"
    ]
