"""The event's class is its type: the registry answers both ways, refuses what it does not know by name, and
refuses at import a second claim on a name or a class. What goes on the wire stays the registered name."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from binhchon_kit.canonical import GENESIS_HASH, chain_hash
from binhchon_kit.contracts import event_types
from binhchon_kit.contracts.intake import DossierAccepted, DossierReceived, DossierWithdrawn, RoundOpened
from binhchon_kit.contracts.registry import (
    EventData,
    UnknownEventType,
    event_model,
    registered,
    registration_of,
    type_of,
)
from binhchon_kit.events import Actor, NewEvent, RecordedEvent, hashed_content
from binhchon_kit.folding import replay

REPO = Path(__file__).resolve().parents[4]


class Unregistered(EventData):
    """A model nobody registered."""

    note: str


def test_every_registered_class_and_name_lead_to_the_same_registration() -> None:
    registrations = event_types()
    assert len({r.model for r in registrations}) == len({r.type for r in registrations}) == len(registrations)
    for registration in registrations:
        assert registration_of(registration.model) is registration
        assert event_model(registration.type) is registration
        assert type_of(registration.model) == registration.type


def test_the_names_on_the_wire_are_the_published_ones() -> None:
    """Indexing by class renamed nothing: each class's name and version is a committed schema file."""
    published = {path.name for path in (REPO / "docs" / "contract" / "schemas").glob("*.json")}
    current = {f"{type_of(r.model)}.v{r.schema_version}.json" for r in event_types()}
    assert current <= published
    assert type_of(RoundOpened) == "round.opened" and registration_of(RoundOpened).schema_version == 3


def test_an_unknown_class_or_name_is_refused_naming_it() -> None:
    with pytest.raises(UnknownEventType) as unknown_class:
        type_of(Unregistered)
    assert "Unregistered is not a registered event type" in str(unknown_class.value)
    with pytest.raises(UnknownEventType) as unknown_name:
        event_model("dossier.teleported")
    assert str(unknown_name.value) == "unknown event type 'dossier.teleported'"
    with pytest.raises(KeyError):  # what the lookup by name always raised: callers catching it still do
        event_model("dossier.teleported")


def test_a_subclass_is_not_its_parents_type() -> None:
    class Amended(DossierWithdrawn):
        pass

    with pytest.raises(UnknownEventType):
        type_of(Amended)


def test_a_new_event_of_an_unregistered_class_fails_before_anything_is_written() -> None:
    with pytest.raises(UnknownEventType):
        NewEvent(Unregistered(note="x"))
    withdrawn = NewEvent(DossierWithdrawn(reason="Chủ thể xin rút hồ sơ"), id="event-1")
    assert (withdrawn.type, withdrawn.schema_version, withdrawn.id) == ("dossier.withdrawn", 1, "event-1")


def test_a_second_claim_on_a_name_or_a_class_fails_and_registers_nothing() -> None:
    before = event_types()
    with pytest.raises(ValueError, match=r"dossier\.received registered twice"):
        @registered("dossier.received", topic="intake.events")
        class Impostor(EventData):
            pass
    with pytest.raises(ValueError, match=r"is already event type dossier\.received"):
        registered("dossier.arrived", topic="intake.events")(DossierReceived)
    assert event_types() == before


def test_a_module_claiming_a_taken_name_fails_at_import(tmp_path: Path) -> None:
    source = tmp_path / "rival_contract.py"
    source.write_text(
        "from binhchon_kit.contracts.registry import EventData, registered\n\n\n"
        "@registered('dossier.accepted', topic='rival.events')\n"
        "class RivalAccepted(EventData):\n"
        "    note: str\n",
        encoding="utf-8")
    spec = importlib.util.spec_from_file_location("rival_contract", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(ValueError, match=r"dossier\.accepted registered twice"):
        spec.loader.exec_module(module)
    assert registration_of(DossierAccepted).topic == "intake.events"
    sys.modules.pop("rival_contract", None)


def recorded(data: EventData, version: int = 1, prev_hash: str = GENESIS_HASH) -> RecordedEvent:
    new = NewEvent(data, id=f"event-{version}")
    fields: dict[str, Any] = dict(
        id=new.id, stream="dossier-1", version=version, type=new.type, schema_version=new.schema_version,
        subject="dossier-1", time=datetime(2026, 3, 6, 2, 30, tzinfo=UTC), data=data.model_dump(mode="json"),
        actor=Actor("secretariat-1", ("secretariat",)), correlation_id="c", causation_id="c", source="intake",
    )
    return RecordedEvent(**fields, prev_hash=prev_hash, hash=chain_hash(prev_hash, hashed_content(**fields)))


def test_a_recorded_event_reads_back_as_its_class_and_hashes_its_name() -> None:
    event = recorded(DossierWithdrawn(reason="Chủ thể xin rút hồ sơ"))
    assert event.model() == DossierWithdrawn(reason="Chủ thể xin rút hồ sơ")
    assert event.model() is event.model()  # read once
    assert event.verify_hash()
    assert event.hashed_content()["type"] == "dossier.withdrawn"
    as_sent = json.loads(event.to_cloudevent().to_bytes())
    assert as_sent["type"] == "dossier.withdrawn"
    assert as_sent["dataschema"].endswith("/dossier.withdrawn/v1.json")
    assert RecordedEvent.from_cloudevent(event.to_cloudevent()) == event


def test_replay_folds_with_any_evolve_and_gives_none_for_no_events() -> None:
    def count(state: int | None, event: RecordedEvent) -> int:
        return (state or 0) + (1 if isinstance(event.model(), DossierWithdrawn) else 0)

    events = [recorded(DossierWithdrawn(reason="một")), recorded(DossierWithdrawn(reason="hai"), 2)]
    assert replay(count, events) == 2
    assert replay(count, []) is None
