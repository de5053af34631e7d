"""Personal fields sealed in events (ADR 0035): they open only with their subject's key, only in their own event
and field, read as erased once the key is gone, and leave the event's hash checkable without any key."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.personal import (
    ERASED,
    MasterKey,
    NotOpened,
    Sealed,
    SealedCopy,
    copy_sealed,
    fields_to_seal,
    new_data_key,
    new_kid,
    open_fields,
    open_sealed,
    seal,
    seal_fields,
    sealed_kids,
)
from binhchon_kit.personal_keys import KeyClient

KEY, KID = new_data_key(), new_kid()
EVENT = "3f2c8a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
PATHS = ("producer.contact.person", "producer.contact.phone", "producer.contact.email", "producer.address.street")


def received() -> dict[str, Any]:
    return {"dossier_id": "dossier-1", "producer": {
        "kind": "household", "name": "Hộ kinh doanh Lan", "registration_number": "2400123456",
        "address": {"street": "12 Lê Lợi", "commune": "Xã Tân Dĩnh", "province": "Bắc Giang", "province_code": "24"},
        "contact": {"person": "Nguyễn Thị Lan", "phone": "0912 345 678", "email": "lan@example.vn"}}}


def test_a_sealed_field_is_the_documented_object_and_opens_with_its_key() -> None:
    sealed = seal(KEY, KID, "Nguyễn Thị Lan", event_id=EVENT, path="producer.contact.person")
    assert set(sealed) == {"enc", "kid", "iv", "ct"} and sealed["enc"] == "A256GCM" and sealed["kid"] == KID
    Sealed.model_validate(sealed)  # the published shape
    assert "Lan" not in json.dumps(sealed)
    assert open_sealed(KEY, sealed, event_id=EVENT, path="producer.contact.person") == "Nguyễn Thị Lan"


def test_the_same_value_seals_differently_each_time() -> None:
    one, two = (seal(KEY, KID, "0912 345 678", event_id=EVENT, path="p") for _ in range(2))
    assert one["iv"] != two["iv"] and one["ct"] != two["ct"]


@pytest.mark.parametrize("event_id, path, key", [
    ("another-event", "producer.contact.person", KEY),  # copied into another event
    (EVENT, "producer.contact.email", KEY),  # moved to another field
    (EVENT, "producer.contact.person", new_data_key()),  # another subject's key
])
def test_a_sealed_field_opens_only_where_it_was_written(event_id: str, path: str, key: bytes) -> None:
    sealed = seal(KEY, KID, "Nguyễn Thị Lan", event_id=EVENT, path="producer.contact.person")
    with pytest.raises(NotOpened):
        open_sealed(key, sealed, event_id=event_id, path=path)


def test_an_altered_ciphertext_does_not_open() -> None:
    sealed = seal(KEY, KID, "Nguyễn Thị Lan", event_id=EVENT, path="p")
    raw = bytearray(base64.urlsafe_b64decode(sealed["ct"] + "=="))
    raw[0] ^= 1
    altered = {**sealed, "ct": base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()}
    with pytest.raises(NotOpened):
        open_sealed(KEY, altered, event_id=EVENT, path="p")


async def test_fields_sealed_by_path_open_back_or_read_as_erased() -> None:
    data = received()
    sealed = seal_fields(data, PATHS, KEY, KID, event_id=EVENT)
    assert data == received(), "the input is not changed"
    text = json.dumps(sealed, ensure_ascii=False)
    for personal in ("Nguyễn Thị Lan", "0912 345 678", "lan@example.vn", "12 Lê Lợi"):
        assert personal not in text
    assert sealed["producer"]["name"] == "Hộ kinh doanh Lan"
    assert sealed["producer"]["address"]["commune"] == "Xã Tân Dĩnh"
    assert sealed_kids(sealed) == {KID}

    async def live(kid: str) -> bytes | None:
        return KEY if kid == KID else None

    async def erased(kid: str) -> bytes | None:
        return None

    assert await open_fields(sealed, EVENT, live) == data
    gone = await open_fields(sealed, EVENT, erased)
    assert gone["producer"]["contact"] == {"person": ERASED, "phone": ERASED, "email": ERASED}
    assert gone["producer"]["address"]["street"] == ERASED


def test_an_absent_or_null_field_is_left_as_it_is() -> None:
    data = received()
    data["producer"]["contact"]["email"] = None
    del data["producer"]["address"]["street"]
    sealed = seal_fields(data, PATHS, KEY, KID, event_id=EVENT)
    assert sealed["producer"]["contact"]["email"] is None and "street" not in sealed["producer"]["address"]


def test_the_events_hash_covers_the_sealed_form_and_outlives_the_key() -> None:
    """Hashing needs no key: an auditor recomputes it on the sealed data before and after an erasure."""
    event = RecordedEvent(
        id=EVENT, stream="dossier-1", version=1, type="dossier.received", schema_version=2, subject="dossier-1",
        time=datetime(2026, 11, 20, 2, 0, tzinfo=UTC), data=seal_fields(received(), PATHS, KEY, KID, event_id=EVENT),
        actor=Actor("applicant-1", ("applicant",)), correlation_id="c", causation_id="c", source="/binhchon/intake",
        prev_hash="", hash="").sealed()
    assert event.verify_hash()
    tampered = RecordedEvent(**{**event.__dict__, "data": seal_fields(received(), PATHS, KEY, KID, event_id=EVENT)})
    assert not tampered.verify_hash(), "sealing again (a new IV) is a different event"


def test_the_master_key_wraps_a_data_key_for_its_kid_only(tmp_path: Path) -> None:
    path = MasterKey.write_new(tmp_path / "master.key")
    assert path.stat().st_mode & 0o777 == 0o600
    assert MasterKey.write_new(path).read_bytes() == path.read_bytes(), "an existing master key is kept"
    master = MasterKey.from_file(path)
    wrapped = master.wrap(KID, KEY)
    assert master.unwrap(KID, wrapped) == KEY
    with pytest.raises(NotOpened):
        master.unwrap(new_kid(), wrapped)
    with pytest.raises(NotOpened):
        MasterKey(bytes(32)).unwrap(KID, wrapped)
    with pytest.raises(ValueError):
        MasterKey(b"short")


async def test_the_key_client_caches_briefly_and_remembers_an_erasure() -> None:
    calls: list[str] = []
    erased: set[str] = set()
    now = [0.0]

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["authorization"])
        if request.url.path.endswith(KID) and KID not in erased:
            return httpx.Response(200, json={"kid": KID, "key": base64.urlsafe_b64encode(KEY).rstrip(b"=").decode()})
        return httpx.Response(410, json={"detail": "erased"})

    client = KeyClient("http://intake", lambda: "service-token", ttl=60, transport=httpx.MockTransport(answer),
                       clock=lambda: now[0])
    assert await client.key(KID) == KEY
    assert await client.key(KID) == KEY and len(calls) == 1, "kept for the ttl"
    assert calls[0] == "Bearer service-token"
    erased.add(KID)
    now[0] = 61
    assert await client.key(KID) is None and len(calls) == 2
    now[0] = 1000
    assert await client.key(KID) is None and len(calls) == 2, "erased stays erased, never asked again"
    assert await client.key("not-a-kid") is None and len(calls) == 2
    other = new_kid()
    client.drop([other])
    assert await client.key(other) is None and len(calls) == 2


def test_an_individuals_identity_is_sealed_a_verified_organisations_is_not() -> None:
    """ADR 0048: a household business's name and registration number are an individual's; a cooperative's or a
    company's are public once the secretariat has verified it is one (fourth amendment): declared, it is sealed."""
    identity = (*PATHS, "producer.name", "producer.registration_number")
    assert fields_to_seal("household", PATHS) == identity
    assert fields_to_seal("household", PATHS, verified_organisation=True) == identity
    for organisation in ("enterprise", "cooperative", "cooperative_group"):
        assert fields_to_seal(organisation, PATHS) == identity
        assert fields_to_seal(organisation, PATHS, verified_organisation=True) == PATHS
    data = received()
    sealed = seal_fields(data, fields_to_seal(data["producer"]["kind"], PATHS), KEY, KID, event_id=EVENT)
    assert "Hộ kinh doanh Lan" not in json.dumps(sealed, ensure_ascii=False) and "2400123456" not in json.dumps(sealed)


async def test_a_sealed_copy_opens_in_a_later_event_only_in_a_field_holding_the_same_value() -> None:
    """Scoring and certification carry a household's name as intake sealed it (they hold no key to seal with)."""
    data = received()
    sealed = seal_fields(data, fields_to_seal("household", PATHS), KEY, KID, event_id=EVENT)
    name = copy_sealed(sealed["producer"]["name"], event_id=EVENT, path="producer.name")
    assert SealedCopy.model_validate(name).src == f"{EVENT}#producer.name"
    assert copy_sealed(name, event_id="later", path="producer_name") == name, "a copy of a copy keeps its source"
    later = {"producer_name": name, "holder": {"name": name}, "product_name": "Miến dong"}

    async def live(kid: str) -> bytes | None:
        return KEY if kid == KID else None

    async def erased(kid: str) -> bytes | None:
        return None

    opened = await open_fields(later, "another-event", live)
    assert opened == {"producer_name": "Hộ kinh doanh Lan", "holder": {"name": "Hộ kinh doanh Lan"},
                      "product_name": "Miến dong"}
    assert (await open_fields(later, "another-event", erased))["producer_name"] == ERASED
    moved = copy_sealed(sealed["producer"]["contact"]["email"], event_id=EVENT, path="producer.contact.email")
    with pytest.raises(NotOpened):
        await open_fields({"producer_name": moved}, "another-event", live)
    forged = {**name, "src": f"{EVENT}#producer.registration_number"}
    with pytest.raises(NotOpened):
        await open_fields({"producer_registration_number": forged}, "another-event", live)
