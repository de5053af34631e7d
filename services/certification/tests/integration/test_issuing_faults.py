"""Issuing under faults: two replicas rating one product at once, a crash between recording a certificate and
what follows from it, a number claimed for an attempt that never recorded. The handlers are called directly (two
service instances on the same database, as two replicas are); what is checked is what a reader meets over HTTP."""

from __future__ import annotations

import asyncio
from datetime import date, time

import pytest

import certification.service as service_module
from binhchon_kit.contracts.common import DecisionReference

pytestmark = pytest.mark.integration
EARLIER = DecisionReference(number="9/QĐ-UBND", date=date(2025, 3, 2), signer="Trần Văn Hai",
                            authority="UBND tỉnh Bắc Giang")
LATER = DecisionReference(number="88/QĐ-UBND", date=date(2026, 11, 20), signer="Nguyễn Thị Ký",
                          authority="UBND tỉnh Bắc Giang")


async def dies_before_its_record(svc, approved, monkeypatch) -> None:
    """The result handled once with the event store unreachable at the certificate's record: its number drawn,
    nothing recorded."""
    async def store_unreachable(*args, **kwargs):
        raise ConnectionError("the event store did not answer")

    real_record = service_module.record
    monkeypatch.setattr(service_module, "record", store_unreachable)
    with pytest.raises(ConnectionError):
        await svc.on_result_approved(approved)
    monkeypatch.setattr(service_module, "record", real_record)


async def by_dossier(cert, auth):
    staff = auth("sec", "secretariat")
    items = (await cert.get("/certificates", params={"limit": 200}, headers=staff)).json()["items"]
    return {i["dossier_id"]: i for i in items}


async def test_two_replicas_rating_one_product_at_once_leave_only_the_newer_decision_valid(env, auth):
    products = [("Mật ong bạc hà", "2400000001"), ("Chè Shan tuyết", "2400000002"), ("Gạo nếp cái", "2400000003")]
    pairs = [(await env.scored(env.result(f"old-{i}", product=p, registration=r, decision=EARLIER)),
              await env.scored(env.result(f"new-{i}", product=p, registration=r, decision=LATER)))
             for i, (p, r) in enumerate(products)]
    async with env.running() as a, env.running() as b:
        one, other = a.app.state.certification, b.app.state.certification
        # each product's two ratings handled at the same moment, one on each replica
        await asyncio.gather(*(h for old, new in pairs
                               for h in (one.on_result_approved(old), other.on_result_approved(new))))

        registry = (await a.get("/registry.json", params={"limit": 200})).json()
        assert sorted(i["dossier_id"] for i in registry["items"]) == ["new-0", "new-1", "new-2"]
        certificates = await by_dossier(a, auth)
        for i in range(len(products)):
            assert certificates[f"new-{i}"]["status"] == "valid"
            assert certificates[f"old-{i}"]["status"] == "superseded"
            assert certificates[f"old-{i}"]["superseded_by"] == certificates[f"new-{i}"]["number"]
            public = (await b.get(f"/certificates/{certificates[f'old-{i}']['number']}")).json()
            assert public["status"] == "superseded"


async def test_a_crash_after_issuing_is_made_good_by_the_redelivery(env, auth, monkeypatch):
    older = await env.scored(env.result("dossier-1", decision=EARLIER))
    newer = await env.scored(env.result("dossier-2", decision=LATER))
    real_record = service_module.record

    async def dies_after_issuing(*args, **kwargs):
        recorded = await real_record(*args, **kwargs)
        if recorded.type == "certificate.issued":
            raise ConnectionError("the process died here")
        return recorded

    async with env.running() as cert:
        svc = cert.app.state.certification
        await svc.on_result_approved(older)
        monkeypatch.setattr(service_module, "record", dies_after_issuing)
        with pytest.raises(ConnectionError):
            await svc.on_result_approved(newer)
        monkeypatch.setattr(service_module, "record", real_record)
        certificates = await by_dossier(cert, auth)
        assert certificates["dossier-1"]["status"] == "valid"  # the follow-ups have not run
        number = certificates["dossier-2"]["number"]
        assert (await cert.get(f"/verify/{number}")).status_code == 200  # recorded is recorded: it verifies
        # and its holder is known at once: the staff listing (and a ceremony's invitees) name who holds it
        assert certificates["dossier-2"]["holder"]["registration_number"] == newer.data[
            "producer_registration_number"]

        await svc.on_result_approved(newer)  # the broker delivers it again
        certificates = await by_dossier(cert, auth)
        assert certificates["dossier-1"]["status"] == "superseded"
        assert certificates["dossier-1"]["superseded_by"] == number
        assert certificates["dossier-2"]["number"] == number and certificates["dossier-2"]["status"] == "valid"
        await svc.on_result_approved(newer)  # and again: nothing more happens
        assert await env.db["events"].count_documents({"type": "certificate.superseded"}) == 1
        assert await env.db["events"].count_documents({"type": "certificate.issued"}) == 2


async def test_an_attempt_that_never_recorded_keeps_its_number_and_a_stray_pointer_verifies_nothing(env, monkeypatch):
    approved = await env.scored(env.result("dossier-1"))

    async with env.running() as cert:
        svc = cert.app.state.certification
        await dies_before_its_record(svc, approved, monkeypatch)
        await svc.on_result_approved(approved)  # redelivered: the number it claimed is its own again (ADR 0058)

        issued, lost = "OCOP-UBNDTBG-2026-00001", "OCOP-UBNDTBG-2026-00002"
        assert (await cert.get(f"/certificates/{issued}")).json()["certificate"]["number"] == issued
        # no second number drawn: no hole
        assert await env.db["sequence_claims"].count_documents({"_id": {"$regex": "^OCOP-"}}) == 1
        page = await cert.get(f"/verify/{lost}")
        assert page.status_code == 404 and issued not in page.text
        assert (await cert.get(f"/certificates/{lost}")).status_code == 404
        assert (await cert.get(f"/certificates/{lost}.pdf")).status_code == 404
        # a pointer left by the code before this change (it wrote the pointer first) is not believed either
        stream = (await env.db["numbers"].find_one({"_id": issued}))["stream"]
        await env.db["numbers"].insert_one({"_id": lost, "stream": stream})
        page = await cert.get(f"/verify/{lost}")
        assert page.status_code == 404 and issued not in page.text


async def _numbers(cert, auth) -> dict[str, str]:
    return {d: c["number"] for d, c in (await by_dossier(cert, auth)).items()}


async def test_two_replicas_that_both_draw_a_number_for_one_certificate_leave_no_hole(env, auth, monkeypatch):
    """Both read the certificate's holder before either reserves (ADR 0058's remaining hole): each draws a number,
    one records, and the other's number goes to the next certificate of the scope instead of being lost."""
    first = await env.scored(env.result("dossier-1"))
    second = await env.scored(env.result("dossier-2", product="Chè Shan tuyết", registration="2400000002"))
    real_reserve = service_module.reserve_held
    inside, both_in = 0, asyncio.Event()

    async def together(*args, **kwargs):
        nonlocal inside
        inside += 1
        if inside == 2:
            both_in.set()
        await asyncio.wait_for(both_in.wait(), 10)  # neither reserves before both have looked for a reservation
        return await real_reserve(*args, **kwargs)

    async with env.running() as a, env.running() as b:
        monkeypatch.setattr(service_module, "reserve_held", together)
        await asyncio.gather(a.app.state.certification.on_result_approved(first),
                             b.app.state.certification.on_result_approved(first))
        monkeypatch.setattr(service_module, "reserve_held", real_reserve)
        assert inside == 2  # the race was real: two numbers drawn for one certificate
        assert await env.db["events"].count_documents({"type": "certificate.issued"}) == 1
        await a.app.state.certification.on_result_approved(second)

        numbers = await _numbers(a, auth)
        assert sorted(numbers.values()) == ["OCOP-UBNDTBG-2026-00001", "OCOP-UBNDTBG-2026-00002"], numbers
        for number in numbers.values():
            assert (await b.get(f"/verify/{number}")).status_code == 200
        # two numbers were ever claimed, both are used, and no reservation is left to be taken
        assert await env.db["sequence_claims"].count_documents({"_id": {"$regex": "^OCOP-"}}) == 2
        pending = await env.db["sequence_pending"].find({}).to_list()
        assert all(p.get("settled") for p in pending), pending


async def test_a_number_abandoned_past_its_lease_goes_to_the_next_certificate(env, auth, monkeypatch):
    """An attempt that died between its reservation and its record, not delivered again within the lease: the
    next certificate of the scope takes its number; the late redelivery draws the next one. No hole, no number
    twice."""
    stalled = await env.scored(env.result("dossier-1"))
    later = await env.scored(env.result("dossier-2", product="Chè Shan tuyết", registration="2400000002"))

    async with env.running() as cert:
        svc = cert.app.state.certification
        await dies_before_its_record(svc, stalled, monkeypatch)
        env.clock.hour = time(9, 3)  # its lease (two minutes) has passed
        await svc.on_result_approved(later)
        await svc.on_result_approved(stalled)  # delivered again, late

        numbers = await _numbers(cert, auth)
        assert numbers == {"dossier-2": "OCOP-UBNDTBG-2026-00001", "dossier-1": "OCOP-UBNDTBG-2026-00002"}
        assert await env.db["sequence_claims"].count_documents({"_id": {"$regex": "^OCOP-"}}) == 2
