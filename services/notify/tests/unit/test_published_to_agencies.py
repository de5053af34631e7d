"""What agencies' webhooks carry (notify.domain.published): every type notify consumes is declared published or
never published; judges' sheets never are; a dossier's receipt goes without the producer's personal data."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from binhchon_kit.contracts.intake import DossierReceived
from binhchon_kit.contracts.registry import type_of
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.testing.samples import dossier_body
from notify.domain.published import PUBLISHED, SEALED, agency_data, agency_event, is_published, published_types
from notify.main import CONSUMED

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_every_consumed_type_is_declared_one_way_or_the_other():
    consumed = {type_of(t) for types in CONSUMED.values() for t in types}
    assert consumed <= set(PUBLISHED) | SEALED, consumed - set(PUBLISHED) - SEALED
    assert not set(PUBLISHED) & SEALED


@pytest.mark.parametrize("sealed", ["score.submitted", "score.amended", "scoring.rescore_requested",
                                    "scoring.completed", "result.proposed", "judge.recused"])
def test_sheets_and_pre_decision_figures_are_never_published(sealed):
    assert not is_published(sealed) and sealed not in published_types()
    with pytest.raises(ValueError, match="not published"):
        agency_data(sealed, {"member_id": "gk-2", "total": 80, "scores": []})


def test_an_unknown_type_is_not_published():
    assert not is_published("dossier.something_new")


def _received() -> RecordedEvent:
    body = dossier_body()
    data = DossierReceived(dossier_id="dossier-1", round_id="round-1", round_code="BG-1", programme="OCOP",
                           level="province", receipt_number="BG-1-00001", received_at=AT,
                           check_due_date=date(2026, 12, 7), producer=body["producer"], product=body["product"],
                           documents=body["documents"])
    return RecordedEvent(id="e-1", stream="dossier-1", version=1, type="dossier.received", schema_version=1,
                         subject="dossier-1", time=AT, data=data.model_dump(mode="json"),
                         actor=Actor("htx", ("applicant",)), correlation_id="c", causation_id="c",
                         source="/binhchon/intake", prev_hash="0" * 64, hash="1" * 64)


def test_a_receipt_goes_without_the_producers_personal_data():
    event = _received()
    producer = event.data["producer"]
    raw = agency_event(event)
    body = json.loads(raw)
    text = raw.decode()
    for personal in (producer["contact"]["person"], producer["contact"]["phone"], producer["contact"]["email"],
                     producer["registration_number"], producer["address"]["street"], event.data["receipt_number"]):
        assert personal and personal not in text, personal
    sent = body["data"]["producer"]
    assert sent == {"kind": producer["kind"], "name": producer["name"],
                    "address": {k: v for k, v in producer["address"].items() if k != "street"}}
    assert body["data"]["documents"] == [{"kind": d["kind"]} for d in event.data["documents"]]
    # the event's identity, not the topic's envelope: no actor, no stream, no hash chain
    assert {k: body[k] for k in ("id", "type", "subject", "source", "specversion")} == {
        "id": "e-1", "type": "dossier.received", "subject": "dossier-1", "source": "/binhchon/intake",
        "specversion": "1.0"}
    assert not {"actorid", "actorroles", "streamid", "hash", "prevhash", "dataschema"} & set(body)
    assert "htx" not in json.dumps({k: v for k, v in body.items() if k != "data"})


def test_a_sealed_value_is_withheld_in_any_published_field_and_a_clear_name_goes_as_it_is():
    """A household's name and number travel as sealed copies in fields published for an organisation's (ADR 0048):
    a webhook carries ``WITHHELD`` there, never the ciphertext, however deep the field is."""
    from binhchon_kit.contracts.agencies import WITHHELD

    copy = {"enc": "A256GCM", "kid": "psk-" + "0" * 32, "iv": "aXY", "ct": "Y3Q", "src": "e-1#producer.name"}
    invitees = [{"certificate_number": "OCOP-1", "holder": copy, "product_name": "Chè", "dossier_id": "d-1",
                 "producer_registration_number": copy},
                {"certificate_number": "OCOP-2", "holder": "HTX Đông Hưng", "product_name": "Mật ong",
                 "dossier_id": "d-2", "producer_registration_number": "2400123456"}]
    sent = agency_data("ceremony.scheduled", {"ceremony_id": "c-1", "invitees": invitees})
    assert [i["holder"] for i in sent["invitees"]] == [WITHHELD, "HTX Đông Hưng"]
    assert all("producer_registration_number" not in i for i in sent["invitees"]), "numbers are not published"
    assert agency_data("dossier.accepted", {"producer_name": copy, "product_name": "Chè"}) == {
        "producer_name": WITHHELD, "product_name": "Chè"}
    assert agency_data("certificate.issued", {"holder": {"name": copy, "registration_number": copy}}) == {
        "holder": {"name": WITHHELD}}
