"""A household's name and registration number sealed by intake (ADR 0048): its dossier keeps its identity from
the event, acceptance carries sealed copies of where they were sealed, and its binding keeps the number sealed
while still being found by the producer's reference."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from binhchon_kit.contracts.intake import ProducerBindingRequested
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.personal import ERASED, new_data_key, new_kid, open_copies_with, seal_fields
from intake.domain import bindings, dossiers

from .dossier_builders import TODAY, DossierHistory, producer, receive, round_opened

KEY, KID = new_data_key(), new_kid()
IDENTITY = ("producer.name", "producer.registration_number")


def household_received() -> tuple[DossierHistory, Any]:
    round_ = round_opened()
    clear = {**producer().model_dump(mode="json"), "kind": "household", "name": "Hộ kinh doanh Lương Thị Mai",
             "registration_number": "HKD-24-0001"}
    history = DossierHistory("dossier-x")
    event_id = f"{history.stream}-1"  # the id the history records its first event with
    sealed = seal_fields({"producer": clear}, IDENTITY, KEY, KID, event_id=event_id)["producer"]
    identity = dossiers.dossier_id_for(round_.round_id, "HKD-24-0001", "Mật ong rừng Lục Nam")
    history.record(receive(round_, producer=sealed, product_identity=identity, dossier_id="dossier-x"))
    return history, round_


def test_a_households_dossier_keeps_its_product_identity_though_its_number_is_sealed() -> None:
    history, round_ = household_received()
    assert "HKD" not in str(history.events[0].data)
    assert dossiers.product_identity(history.dossier) == dossiers.dossier_id_for(
        round_.round_id, "HKD-24-0001", "Mật ong rừng Lục Nam")


def test_acceptance_carries_copies_that_open_with_the_producers_key_and_read_erased_without() -> None:
    history, round_ = household_received()
    accepted = dossiers.accept(history.dossier, round_, product_group="thực phẩm", sample_code="TP-1")
    data = accepted.model_dump(mode="json")
    assert data["producer_name"]["src"] == f"{history.events[0].id}#producer.name"
    assert "Lương" not in str(data) and "HKD" not in str(data)
    assert open_copies_with(data, {KID: KEY})["producer_name"] == "Hộ kinh doanh Lương Thị Mai"
    assert open_copies_with(data, {KID: KEY})["producer_registration_number"] == "HKD-24-0001"
    assert open_copies_with(data, {})["producer_name"] == ERASED


def test_an_organisations_acceptance_carries_its_name_in_clear() -> None:
    round_ = round_opened()
    history = DossierHistory("dossier-y")
    history.record(receive(round_, dossier_id="dossier-y", today=TODAY))
    accepted = dossiers.accept(history.dossier, round_, product_group="thực phẩm", sample_code="TP-2")
    assert accepted.producer_name == "Hợp tác xã Nông nghiệp Đông Hưng"


def test_a_declared_organisations_identity_goes_clear_only_with_the_acceptance_that_verifies_it() -> None:
    """ADR 0048, fourth amendment: sealed at filing, a cooperative's name and number are carried clear by the
    acceptance given them opened; without them (a household's) the copies go on."""
    round_ = round_opened()
    history = DossierHistory("dossier-z")
    clear = producer("0101234567").model_dump(mode="json")
    sealed = seal_fields({"producer": clear}, IDENTITY, KEY, KID, event_id="dossier-z-1")["producer"]
    history.record(receive(round_, producer=sealed, dossier_id="dossier-z", product_identity="dossier-z"))
    assert "0101234567" not in str(history.events[0].data)
    opened = {"name": clear["name"], "registration_number": "0101234567"}
    accepted = dossiers.accept(history.dossier, round_, product_group="thực phẩm", sample_code="TP-3",
                               organisation=opened)
    assert (accepted.producer_name, accepted.producer_registration_number) == (clear["name"], "0101234567")
    copies = dossiers.accept(history.dossier, round_, product_group="thực phẩm", sample_code="TP-3")
    assert "0101234567" not in copies.model_dump_json()


def test_a_households_binding_keeps_its_number_sealed_and_is_found_by_reference() -> None:
    asked = bindings.request(None, applicant_id="mai", registration_number="hkd-24-0001",
                             producer_name="Hộ kinh doanh Lương Thị Mai", dossier_id="dossier-x")
    assert asked is not None and asked.producer_ref == bindings.producer_ref("HKD-24-0001")
    sealed = seal_fields(asked.model_dump(mode="json"), ("registration_number", "producer_name"), KEY, KID,
                         event_id="b-1")
    event = RecordedEvent(id="b-1", stream=asked.binding_id, version=1, type="producer_binding.requested",
                          schema_version=2, subject=asked.binding_id, time=datetime(2026, 3, 6, tzinfo=UTC),
                          data=ProducerBindingRequested.model_validate(sealed).model_dump(mode="json"),
                          actor=Actor("mai", ("applicant",)), correlation_id="c", causation_id="c",
                          source="intake", prev_hash="0" * 64, hash="0" * 64)
    doc = bindings.fold_binding([event])
    assert doc["producer_ref"] == bindings.producer_ref("HKD-24-0001") and "HKD" not in str(doc)
    assert open_copies_with(doc, {KID: KEY})["registration_number"] == "HKD-24-0001"
    state = bindings.evolve(None, event)
    assert state.sealed and state.first_event_id == "b-1"
    refused = bindings.refuse(replace(state), reason="Không có giấy ủy quyền", registration_number="HKD-24-0001")
    assert refused.producer_ref == doc["producer_ref"]
