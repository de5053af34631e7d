"""A recorded event survives the trip to a topic and back: same event, same hash, Vietnamese intact."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from binhchon_kit.auth.roles import Role
from binhchon_kit.canonical import GENESIS_HASH, chain_hash
from binhchon_kit.contracts.intake import DossierSupplementRequested, MissingItem
from binhchon_kit.envelope import CloudEvent, utc_now
from binhchon_kit.events import Actor, RecordedEvent, hashed_content

REQUEST = DossierSupplementRequested(
    items=[MissingItem(document_kind="quality_declaration", description="Bản tự công bố chất lượng sản phẩm"),
           MissingItem(description="Ảnh chụp nhãn, bao bì sản phẩm Mật ong rừng Lục Nam")],
    reason="Hồ sơ còn thiếu giấy tờ theo Quyết định số 148/QĐ-TTg", due_date=date(2026, 3, 13),
    request_number=1,
)


def recorded(type_: str, data: dict[str, Any], actor: Actor, prev_hash: str = GENESIS_HASH) -> RecordedEvent:
    """An event built the way EventStore.append builds it."""
    fields: dict[str, Any] = dict(
        id="6b0f3d1e-6a57-4f8e-9d51-0c2f2b7a9e11", stream="dossier-mat-ong", version=2, type=type_,
        schema_version=1, subject="dossier-mat-ong", time=utc_now(), data=data, actor=actor,
        correlation_id="corr-đợt-1", causation_id="request-42", source="intake",
    )
    return RecordedEvent(**fields, prev_hash=prev_hash, hash=chain_hash(prev_hash, hashed_content(**fields)))


def through_a_topic(event: RecordedEvent) -> RecordedEvent:
    return RecordedEvent.from_cloudevent(CloudEvent.from_bytes(event.to_cloudevent().to_bytes()))


def test_a_supplement_request_round_trips_exactly() -> None:
    event = recorded("dossier.supplement_requested", REQUEST.model_dump(mode="json"),
                     Actor("secretariat-1", ("judge", "secretariat")), prev_hash="a" * 64)

    back = through_a_topic(event)

    assert back == event
    assert back.verify_hash()
    assert back.model() == REQUEST


def test_the_envelope_carries_utf8_and_the_cloudevents_attributes() -> None:
    event = recorded("dossier.supplement_requested", REQUEST.model_dump(mode="json"), Actor.system("intake"))
    raw = event.to_cloudevent().to_bytes()

    assert "Bản tự công bố chất lượng".encode() in raw  # not \u escapes
    envelope = json.loads(raw)
    assert envelope["specversion"] == "1.0"
    assert envelope["dataschema"] == "https://schemas.binhchon.vn/events/dossier.supplement_requested/v1.json"
    assert envelope["time"].endswith("Z")
    assert (envelope["streamid"], envelope["streamversion"]) == ("dossier-mat-ong", 2)
    assert (envelope["actorid"], envelope["actorroles"]) == ("system:intake", "system")


def test_an_actor_without_roles_round_trips() -> None:
    event = recorded("dossier.withdrawn", {"reason": ""}, Actor("applicant-7"))
    back = through_a_topic(event)
    assert back == event
    assert back.actor.roles == ()


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
SAFE_INTEGER = 2**53 - 1  # RFC 8785 refuses integers a JSON number cannot hold exactly
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-SAFE_INTEGER, SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


@given(data=st.dictionaries(texts, json_values, max_size=6),
       actor_id=texts.filter(bool),
       roles=st.lists(st.sampled_from([r.value for r in Role]), unique=True))
def test_any_json_data_and_actor_round_trip_with_a_valid_hash(
    data: dict[str, Any], actor_id: str, roles: list[str]
) -> None:
    event = recorded("dossier.withdrawn", data, Actor(actor_id, tuple(roles)))

    back = through_a_topic(event)

    assert back == event
    assert back.verify_hash()
