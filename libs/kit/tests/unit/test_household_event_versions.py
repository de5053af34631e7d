"""A household business's name and registration number in the event versions of ADR 0048: sealed in
``dossier.received`` v3, carried as sealed copies downstream, opened only in a field holding the same value, and
every older version still reads as it was recorded."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from binhchon_kit.contracts.certification import CertificateIssued, Holder, Invitee
from binhchon_kit.contracts.intake import DossierAccepted, DossierReceived, ProducerBindingRequested
from binhchon_kit.contracts.registry import registration_of
from binhchon_kit.contracts.scoring import ResultApproved, ScoringOpened
from binhchon_kit.personal import (
    ERASED,
    SealedCopy,
    copy_sealed,
    new_data_key,
    new_kid,
    open_copies_with,
    producer_recipient,
    seal,
    seal_fields,
)

KEY, KID = new_data_key(), new_kid()
RECEIVED = "7d9e1f20-3a4b-4c5d-8e6f-708192a3b4c5"


def received(kind: str = "household") -> dict[str, Any]:
    return {
        "dossier_id": "dossier-1", "round_id": "round-1", "round_code": "BG-1", "programme": "OCOP",
        "level": "province", "receipt_number": "R-1", "received_at": "2026-11-29T02:00:00Z",
        "check_due_date": "2026-12-02", "product": {"name": "Chè", "product_group": "thực phẩm", "sample_count": 1},
        "documents": [], "producer": {
            "kind": kind, "name": "Hộ kinh doanh Lương Thị Mai", "registration_number": "HKD-24-0001",
            "address": {"street": "Thôn Vắng", "commune": "Xã A", "district": "Huyện B", "province": "Tỉnh C",
                        "province_code": "24"},
            "contact": {"person": "Lương Thị Mai", "phone": "0912 345 678"}}}


def sealed_received(kind: str = "household") -> dict[str, Any]:
    paths = ("producer.name", "producer.registration_number", "producer.contact.person", "producer.contact.phone")
    return seal_fields(received(kind), paths, KEY, KID, event_id=RECEIVED)


def test_dossier_received_v3_takes_a_households_identity_sealed_and_reads_v2_in_clear() -> None:
    assert registration_of(DossierReceived).schema_version == 4
    v3 = DossierReceived.model_validate({**sealed_received(), "product_identity": "dossier-1"})
    assert not isinstance(v3.producer.name, str) and "Lương" not in v3.model_dump_json()
    v2 = DossierReceived.model_validate(seal_fields(received(), ("producer.contact.person",), KEY, KID,
                                                    event_id=RECEIVED))
    assert v2.producer.name == "Hộ kinh doanh Lương Thị Mai" and v2.product_identity is None


def test_a_declared_organisations_identity_is_sealed_from_v4_and_a_v3_organisations_reads_clear() -> None:
    """ADR 0048, fourth amendment: a declared kind proves nothing, so an organisation's name and number are sealed
    at filing until the secretariat verifies it; a v3 organisation's, clear, reads as it was recorded."""
    v4 = DossierReceived.model_validate({**sealed_received(kind="cooperative"), "product_identity": "dossier-1"})
    assert not isinstance(v4.producer.registration_number, str) and "HKD" not in v4.model_dump_json()
    v3 = DossierReceived.model_validate(seal_fields(received(kind="cooperative"), ("producer.contact.person",), KEY,
                                                    KID, event_id=RECEIVED))
    assert v3.producer.registration_number == "HKD-24-0001"


def test_later_events_take_a_sealed_copy_or_clear_text_but_never_a_bare_sealed_value() -> None:
    data = sealed_received()
    name = copy_sealed(data["producer"]["name"], event_id=RECEIVED, path="producer.name")
    number = copy_sealed(data["producer"]["registration_number"], event_id=RECEIVED,
                         path="producer.registration_number")
    accepted = {"round_id": "round-1", "rulebook_id": "ocop-2023", "programme": "OCOP", "level": "province",
                "product_group": "thực phẩm", "sample_code": "TP-1", "result_due_date": None, "product_name": "Chè"}
    v2 = DossierAccepted.model_validate({**accepted, "producer_name": name, "producer_registration_number": number})
    assert isinstance(v2.producer_name, SealedCopy) and v2.producer_name.src == f"{RECEIVED}#producer.name"
    assert DossierAccepted.model_validate({**accepted, "producer_name": "HTX Đông Hưng"}).producer_name == \
        "HTX Đông Hưng"  # v1, and an organisation's in v2
    bare = data["producer"]["name"]  # no src: where it was sealed is unsaid, so it could never open
    with pytest.raises(ValidationError):
        DossierAccepted.model_validate({**accepted, "producer_name": bare})
    assert Holder.model_validate({"name": name, "address": "Xã A"}).name == SealedCopy.model_validate(name)
    Invitee.model_validate({"certificate_number": "1", "holder": name, "product_name": "Chè", "dossier_id": "d",
                            "producer_registration_number": number})
    for model, version in ((ScoringOpened, 2), (ResultApproved, 3), (CertificateIssued, 3),
                           (ProducerBindingRequested, 2)):
        assert registration_of(model).schema_version == version


def test_copies_open_wherever_a_document_keeps_them_and_read_erased_without_their_key() -> None:
    data = sealed_received()
    name = copy_sealed(data["producer"]["name"], event_id=RECEIVED, path="producer.name")
    number = copy_sealed(data["producer"]["registration_number"], event_id=RECEIVED,
                         path="producer.registration_number")
    doc = {"producer_name": name, "producer_registration_number": number, "holder": {"name": name},
           "rows": [{"producer_name": name}], "payee": name, "invitees": [{"holder": name}], "count": 3}
    opened = open_copies_with(doc, {KID: KEY})
    assert opened == {"producer_name": "Hộ kinh doanh Lương Thị Mai", "producer_registration_number": "HKD-24-0001",
                      "holder": {"name": "Hộ kinh doanh Lương Thị Mai"},
                      "rows": [{"producer_name": "Hộ kinh doanh Lương Thị Mai"}],
                      "payee": "Hộ kinh doanh Lương Thị Mai", "invitees": [{"holder": "Hộ kinh doanh Lương Thị Mai"}],
                      "count": 3}
    assert open_copies_with(doc, {})["holder"] == {"name": ERASED}  # erased: the key is gone


def test_a_copy_moved_into_a_field_of_another_value_reads_erased_never_opened() -> None:
    phone = copy_sealed(sealed_received()["producer"]["contact"]["phone"], event_id=RECEIVED,
                        path="producer.contact.phone")
    assert open_copies_with({"producer_name": phone}, {KID: KEY}) == {"producer_name": ERASED}
    forged = {**copy_sealed(seal(KEY, KID, "Kẻ mạo danh", event_id="other", path="producer.name"),
                            event_id=RECEIVED, path="producer.name"), "src": f"{RECEIVED}#producer.name"}
    assert open_copies_with({"producer_name": forged}, {KID: KEY}) == {"producer_name": ERASED}


def test_a_household_is_named_among_recipients_by_its_key_id_not_its_number() -> None:
    number = sealed_received()["producer"]["registration_number"]
    assert producer_recipient(number) == f"producer:{KID}"
    assert producer_recipient("2400123456") == "producer:2400123456"
