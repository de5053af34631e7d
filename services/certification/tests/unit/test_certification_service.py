"""Certification's service layer with no server: issuing on result.approved (once, also when two replicas get
it at once), supersession whatever the order results arrive in, expiry notices given once, revocation refused
when it makes no sense.

Scoring's result.approved comes from an in-memory scoring store through its CloudEvent form; the service's
today is a fixed day in Vietnam. Assertions read what callers meet: ``load`` by number (what /verify answers
from), the ``certificates`` read model, the signed document, the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.auth import Principal, Role
from binhchon_kit.contracts.common import DecisionReference, Level, Programme
from binhchon_kit.contracts.scoring import Rating, ResultApproved
from binhchon_kit.events import Actor, Cause, RecordedEvent
from binhchon_kit.eventstore import EventStore
from binhchon_kit.folding import replay
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.signing import Signer, verify_document
from binhchon_kit.testing.memory import (
    FixedClock,
    append,
    consume,
    foreign_store,
    interleaved,
    memory_runtime,
    types_of,
)
from certification.domain import certificates as certs
from certification.domain.ceremonies import fold_ceremony
from certification.domain.certificates import fold_certificate
from certification.domain.errors import Refused
from certification.service import Certification, instant_clock, signed_document
from certification.vc import status

VIETNAM_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội
TODAY = date(2026, 11, 23)
PRODUCT = "Rượu nếp cẩm Đông Hưng – ủ men lá"


def decision(day: date, number: str = "88/QĐ-UBND") -> DecisionReference:
    return DecisionReference(number=number, date=day, signer="Nguyễn Thị Ký", authority="UBND tỉnh Bắc Giang")


def result(dossier_id: str, decided: date, *, recognised: bool = True, validity_months: int | None = 36
           ) -> ResultApproved:
    return ResultApproved(
        dossier_id=dossier_id, round_id="round-1", programme=Programme.OCOP, level=Level.PROVINCE,
        rulebook_id="ocop-2023", rating=Rating(stars=4, recognised=recognised, label="4 sao"), points=78.25,
        decision=decision(decided), goes_up_a_level=not recognised, next_level=None if recognised else Level.NATIONAL,
        product_name=PRODUCT, producer_name="Hợp tác xã Đông Hưng", producer_address="Xã Đông Hưng, Tỉnh Bắc Giang",
        province_code="24", certificate_validity_months=validity_months, producer_registration_number="2400123456")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


@pytest.fixture
async def svc(clock: FixedClock, signer: Signer) -> Certification:
    # the composition root's way: the service's instant also stamps its events
    runtime = memory_runtime(ServiceSettings(service_name="certification"), {
        "certificate": ("certificates", fold_certificate), "ceremony": ("ceremonies", fold_ceremony)},
        instant_clock(clock.today, clock.in_vietnam))
    service = Certification(runtime, signer, "https://chungnhan.example.vn/", clock=clock.today,
                            now=clock.in_vietnam)
    await service.setup()
    return service


@pytest.fixture
def scoring() -> EventStore:
    return foreign_store("scoring")


async def approved(scoring: EventStore, dossier_id: str, decided: date, recognised: bool = True) -> RecordedEvent:
    return await append(scoring, f"scoring-{dossier_id}",
                        result(dossier_id, decided, recognised=recognised), subject=dossier_id,
                        actor=Actor("approver-1", ("approver",)))


async def certificate_of(svc: Certification, event: RecordedEvent) -> certs.Certificate:
    events = await svc.store.read_stream(certs.certificate_id_for(event.id))
    state = replay(certs.evolve, events)
    assert state is not None, f"no certificate for {event.subject}"
    return state


async def test_an_approved_result_is_issued_a_signed_certificate_dated_by_the_service(
        svc: Certification, scoring: EventStore, signer: Signer) -> None:
    event = await approved(scoring, "dossier-1", date(2026, 11, 20))

    await svc.on_result_approved(event)

    issued = (await certificate_of(svc, event)).issued
    state, _ = await svc.load(issued["number"])  # what /verify/{number} answers from
    assert state.issued == issued
    assert issued["issued_on"] == TODAY.isoformat() and issued["valid_until"] == "2029-11-20"
    assert issued["holder"]["registration_number"] is None  # kept out of the signed content
    assert verify_document(signed_document(issued), {"keys": [signer.jwk()]})[0]
    doc = await svc.rt.db["certificates"].find_one({"number": issued["number"]})
    assert doc is not None and doc["status"] == certs.VALID
    assert svc.verify_url(issued["number"]) == f"https://chungnhan.example.vn/verify/{issued['number']}"
    [recorded] = await svc.store.read_stream(certs.certificate_id_for(event.id))
    assert recorded.time == NOW  # the service's clock, not the machine's


def test_a_service_given_only_its_day_stamps_the_start_of_that_day_in_vietnam() -> None:
    instant = instant_clock(lambda: TODAY)
    assert instant() == datetime(2026, 11, 23, tzinfo=VIETNAM_ZONE)
    assert instant_clock(lambda: TODAY, lambda: NOW)() == NOW


async def test_a_result_not_recognised_at_its_level_gets_no_certificate(svc: Certification,
                                                                       scoring: EventStore) -> None:
    await svc.on_result_approved(await approved(scoring, "dossier-up", date(2026, 11, 20), recognised=False))

    assert await svc.rt.db["certificates"].count_documents({}) == 0
    assert [e async for e in svc.store.read_all()] == []


async def number_claims(svc: Certification) -> list[str]:
    """The certificate numbers claimed (positions in the revocation lists have a sequence of their own)."""
    claims = await svc.rt.db["sequence_claims"].find({}).to_list()
    return [c["_id"] for c in claims if not c["_id"].startswith(f"{status.SEQUENCE}/")]


async def test_a_redelivered_result_keeps_its_one_certificate_and_number(svc: Certification,
                                                                        scoring: EventStore) -> None:
    event = await approved(scoring, "dossier-2", date(2026, 11, 20))

    await consume(svc.on_result_approved, event)
    await consume(svc.on_result_approved, event)

    assert await svc.rt.db["certificates"].count_documents({"dossier_id": "dossier-2"}) == 1
    assert types_of(await svc.store.read_stream(certs.certificate_id_for(event.id))) == ["certificate.issued"]
    assert len(await number_claims(svc)) == 1  # the redelivery took no number
    # nor a second place in the revocation lists (ADR 0032)
    assert await svc.rt.db["status_entries"].count_documents({}) == 1


async def test_two_replicas_issuing_at_once_record_one_certificate(svc: Certification, scoring: EventStore) -> None:
    event = await approved(scoring, "dossier-3", date(2026, 11, 20))
    appends = 0
    append = svc.store.append

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal appends
        appends += 1
        return await append(*args, **kwargs)

    svc.store.append = counted  # type: ignore[method-assign]
    interleaved(svc.store, "read_stream", "append")  # both find no certificate before either records one

    await asyncio.gather(consume(svc.on_result_approved, event), consume(svc.on_result_approved, event))

    [doc] = await svc.rt.db["certificates"].find({"dossier_id": "dossier-3"}).to_list()
    state, _ = await svc.load(doc["number"])
    assert state.stream == certs.certificate_id_for(event.id) and state.version == 1
    # both found no certificate and tried to record one (the race was real); the later found the earlier's claim
    # through the holder and signed the same number (ADR 0058): no hole, and only that number is pointed to
    assert appends == 2
    assert len(await number_claims(svc)) == 1
    assert await svc.rt.db["numbers"].count_documents({}) == 1


@pytest.mark.parametrize("newer_first", [False, True], ids=["in order", "newer decision first"])
async def test_a_newer_decision_supersedes_the_product_s_certificate_whatever_the_order(
        svc: Certification, scoring: EventStore, newer_first: bool) -> None:
    older = await approved(scoring, "dossier-2025", date(2025, 11, 20))
    newer = await approved(scoring, "dossier-2026", date(2026, 11, 20))

    for event in ([newer, older] if newer_first else [older, newer]):
        await svc.on_result_approved(event)

    old, new = await certificate_of(svc, older), await certificate_of(svc, newer)
    assert (old.status, old.superseded_by) == (certs.SUPERSEDED, new.issued["number"])
    assert new.status == certs.VALID
    # a certificate says what it replaces only if the older one was there when it was issued
    assert new.issued["supersedes"] == (None if newer_first else old.issued["number"])
    assert (await svc.rt.db["certificates"].find_one({"number": old.issued["number"]}) or {})["status"] == \
        certs.SUPERSEDED


async def test_expiry_notices_are_given_once_each_on_the_service_s_days(svc: Certification, scoring: EventStore,
                                                                        clock: FixedClock) -> None:
    # decided 2023-12-10, valid 36 months: ends 2026-12-10, within the 30 days' notice on the service's today
    event = await approved(scoring, "dossier-old", date(2023, 12, 10))
    await svc.on_result_approved(event)  # issued late: its expiring notice follows at once

    stream = certs.certificate_id_for(event.id)
    assert types_of(await svc.store.read_stream(stream)) == ["certificate.issued", "certificate.expiring"]
    assert await svc.send_expiry_notices() == 0
    clock.advance(timedelta(days=18))  # 2026-12-11 in Vietnam: the day after its end
    assert await svc.send_expiry_notices() == 1
    assert await svc.send_expiry_notices() == 0
    assert types_of(await svc.store.read_stream(stream))[-1] == "certificate.expired"


async def test_revoking_twice_or_an_unknown_number_is_refused(svc: Certification, scoring: EventStore) -> None:
    event = await approved(scoring, "dossier-4", date(2026, 11, 20))
    await svc.on_result_approved(event)
    number = (await certificate_of(svc, event)).issued["number"]
    # a certificate from before authority ids: its issuer is the authority over its level and province
    inspector = Principal("ubnd-bg", frozenset({Role.APPROVER}), authorities=frozenset({"province:24"}))

    revoked = await svc.revoke(number, "sản phẩm không đạt khi hậu kiểm", inspector, Cause("c", "c"))

    assert revoked.data["revoked_on"] == TODAY.isoformat()
    assert (await svc.rt.db["certificates"].find_one({"number": number}) or {})["status"] == certs.REVOKED
    with pytest.raises(Refused) as again:
        await svc.revoke(number, "lần nữa", inspector, Cause("c", "c"))
    assert again.value.detail == {"current_status": certs.REVOKED}
    with pytest.raises(Refused) as unknown:
        await svc.revoke("OCOP-XX-2026-999999", "không có", inspector, Cause("c", "c"))
    assert unknown.value.kind == "not_found"


async def test_a_certificate_is_numbered_and_revoked_by_its_authority_only(svc: Certification,
                                                                        scoring: EventStore) -> None:
    lucngan, lucnam = (DecisionReference(number="5/QĐ-UBND", date=date(2026, 11, 20), signer="Lê Văn Huyện",
                                         authority=name, authority_id=id_)
                       for name, id_ in (("UBND huyện Lục Ngạn", "district:219"),
                                         ("UBND huyện Lục Nam", "district:220")))
    numbers = {}
    for dossier_id, made in (("dossier-ln-1", lucngan), ("dossier-ln-2", lucngan), ("dossier-lnam-1", lucnam)):
        data = result(dossier_id, date(2026, 11, 20)).model_dump(mode="json")
        event = await append(scoring, dossier_id, ResultApproved.model_validate(
            {**data, "level": "district", "product_name": f"Sản phẩm {dossier_id}",
             "decision": made.model_dump(mode="json")}))
        await svc.on_result_approved(event)
        numbers[dossier_id] = (await certificate_of(svc, event)).issued["number"]
    # one sequence per authority, a prefix no other authority has (initials would give both UBNDHLN)
    assert numbers == {"dossier-ln-1": "OCOP-H.219-2026-00001", "dossier-ln-2": "OCOP-H.219-2026-00002",
                       "dossier-lnam-1": "OCOP-H.220-2026-00001"}
    assert certs.authority_code("UBND huyện Lục Ngạn") == certs.authority_code("UBND huyện Lục Nam")

    province = Principal("ubnd-bg", frozenset({Role.APPROVER}), authorities=frozenset({"province:24"}))
    with pytest.raises(Refused) as refused:
        await svc.revoke(numbers["dossier-lnam-1"], "hậu kiểm", province, Cause("c", "c"))
    assert refused.value.kind == "forbidden" and refused.value.detail["authority_id"] == "district:220"
    lucnam_approver = Principal("ubnd-ln", frozenset({Role.APPROVER}), authorities=frozenset({"district:220"}))
    revoked = await svc.revoke(numbers["dossier-lnam-1"], "hậu kiểm", lucnam_approver, Cause("c", "c"))
    assert revoked.actor.id == "ubnd-ln"


def test_number_prefixes_are_one_per_authority() -> None:
    ids = ["national", "region:MB", "province:24", "province:2", "district:219", "district:220", "commune:07480",
           "district-of-province:24", "commune-of-province:24"]
    prefixes = [certs.numbering("OCOP", {"authority_id": a, "authority": "x"}, 2026)[1] for a in ids]
    assert prefixes[:5] == ["OCOP-TW-2026", "OCOP-KV.MB-2026", "OCOP-T.24-2026", "OCOP-T.2-2026", "OCOP-H.219-2026"]
    assert len(set(prefixes)) == len(ids)
    # a decision from before ids keeps the numbering its authority's certificates always had
    assert certs.numbering("OCOP", {"authority": "UBND tỉnh Bắc Giang"}, 2026) == ("OCOP-UBNDTBG-2026",) * 2
