"""A ceremony's scheduling answer shows a household's name and number as its page does (ADR 0048, amendment of
2026-11-30): opened at first, opened when replayed under its Idempotency-Key, ``[đã xoá]`` once the producer is
erased, though the answer was kept before; the kept answer never holds them in clear. Real intake (its key store
and erasure), real broker and store; the certificate issued by certification's own consumer from a result that
carries the sealed copies intake made. The household's award, paid under a key, answers the same way."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest

from binhchon_kit.claims import aware
from binhchon_kit.contracts.scoring import ResultApproved
from binhchon_kit.personal import ERASED
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.personal import household_accepted, intake_keys, master_key_in
from binhchon_kit.testing.samples import round_body
from certification.adapters.idempotency import STALE, fingerprint
from certification.main import build
from intake.main import IntakeSettings
from intake.main import build as build_intake

from .conftest import CertEnv

pytestmark = pytest.mark.integration
TITLE = "Lễ trao giấy chứng nhận sản phẩm OCOP năm 2026"
PLACE = "Hội trường UBND tỉnh Bắc Giang"


def invitees_personal(body: dict[str, Any]) -> list[tuple[Any, Any]]:
    return [(i["holder"], i["producer_registration_number"]) for i in body["invitees"]]


@pytest.mark.timeout(240)
async def test_the_scheduling_answer_shows_the_household_as_the_page_does_first_replayed_and_erased(
        env: CertEnv, infra: Any, auth: Any, token: Any, tmp_path: Any) -> None:
    name, number = f"Hộ kinh doanh Lương Thị Mai {env.unique}", f"HKD-{env.unique}".upper()
    intake_app = build_intake(IntakeSettings(
        mongodb_url=infra.mongodb, mongodb_database=f"intake_{env.unique}", kafka_bootstrap_servers=infra.kafka,
        kafka_topic_prefix=env.prefix, auth_public_keys_file=env.key,
        personal_data_master_key_file=str(master_key_in(tmp_path))), clock=env.clock.now)
    cert_app = build(env.settings(), clock=env.clock, now=env.clock.now,
                     key_client=intake_keys(intake_app, token("certification", "service"), env.clock.now))
    sec = auth("tk-1", "secretariat")
    async with contextlib.AsyncExitStack() as stack:
        intake = await stack.enter_async_context(running(intake_app, "http://intake"))
        cert = await stack.enter_async_context(running(cert_app, "http://certification"))
        round_id = (await intake.post("/rounds", headers=sec, json=round_body(
            f"CE{env.unique}", rulebook_id="ocop-2023", today=env.clock()))).json()["round_id"]
        dossier_id = await household_accepted(intake, round_id, name, number, auth("mai", "applicant"), sec)
        accepted = next(e for e in await intake_app.state.intake.store.read_stream(dossier_id)
                        if e.type == "dossier.accepted").data
        assert accepted["producer_name"]["enc"] and accepted["producer_registration_number"]["enc"]
        # scoring recognised it: the result carries intake's sealed copies, as scoring's events do
        recognised = ResultApproved.model_validate({
            **env.result(dossier_id, round_id=round_id).model_dump(mode="json"),
            "producer_name": accepted["producer_name"],
            "producer_registration_number": accepted["producer_registration_number"]})
        await env.approve(recognised)

        async def issued() -> bool | None:
            return True if await env.db["certificates"].count_documents({"round_id": round_id}) else None

        await eventually(issued, timeout=60, what="the household's certificate")

        body = {"round_id": round_id, "title": TITLE, "on": (env.clock() + timedelta(days=35)).isoformat(),
                "at": "08:00", "place": PLACE}
        keyed = {**sec, "Idempotency-Key": "ceremony-household"}
        first = await cert.post("/ceremonies", json=body, headers=keyed)
        assert first.status_code == 201, first.text
        ceremony_id = first.json()["ceremony_id"]
        page = (await cert.get(f"/ceremonies/{ceremony_id}", headers=sec)).json()
        assert invitees_personal(first.json()) == invitees_personal(page) == [(name, number)]
        replayed = await cert.post("/ceremonies", json=body, headers=keyed)
        assert (replayed.status_code, replayed.json()) == (201, first.json())

        # the kept answer holds the sealed copies, dated by the service's clock, not the machine's
        [kept] = await env.db["idempotency_keys"].find({"_id": {"$regex": "ceremony-household"}}).to_list()
        assert name not in str(kept) and number not in str(kept)
        assert kept["answer"]["body"]["invitees"][0]["holder"]["kid"]
        assert aware(kept["claimed_at"]) == env.clock.now()

        # another organiser with the same key: their own request (the ceremony scheduled before: 200), never the
        # first caller's kept answer; a producer with it: refused before anything is read
        other = await cert.post("/ceremonies", json=body, headers={**auth("cert-2", "certifier"),
                                                                   "Idempotency-Key": "ceremony-household"})
        assert other.status_code == 200 and invitees_personal(other.json()) == [(name, number)], other.text
        producer = await cert.post("/ceremonies", json=body, headers={**auth("mai", "applicant"),
                                                                      "Idempotency-Key": "ceremony-household"})
        assert producer.status_code == 403 and name not in producer.text and number not in producer.text
        assert await env.db["idempotency_keys"].count_documents({"_id": {"$regex": "ceremony-household"}}) == 2

        # the household's award, paid under a key: its payee shown as the ledger shows it
        r = await cert.post(f"/rounds/{round_id}/prize-schedule", headers=sec,
                            json={"prizes": [{"amount": 5_000_000}], "fee_per_session": 500_000})
        assert r.status_code == 201, r.text

        async def award() -> dict[str, Any] | None:
            lines = (await cert.get(f"/rounds/{round_id}/ledger", headers=sec)).json()["items"]
            return next((line for line in lines if line["kind"] == "award"), None)

        line = await eventually(award, timeout=30, what="the household's award")
        assert (line["producer_name"], line["payee"]) == (name, name)
        payment = {"payment_reference": "UNC-001/2026", "paid_on": env.clock().isoformat()}
        pay = (f"/awards/{line['line_id']}/payment", {**sec, "Idempotency-Key": "award-household"})
        paid = await cert.post(pay[0], json=payment, headers=pay[1])
        assert paid.status_code == 201 and (paid.json()["producer_name"], paid.json()["payee"]) == (name, name)

        r = await intake.post(f"/producers/{number}/erasure", headers=sec)
        assert r.status_code == 201, r.text

        async def erased_on_the_page() -> dict[str, Any] | None:
            shown = (await cert.get(f"/ceremonies/{ceremony_id}", headers=sec)).json()
            return shown if invitees_personal(shown) == [(ERASED, ERASED)] else None

        await eventually(erased_on_the_page, timeout=30, what="the page to show the household erased")
        replayed = await cert.post("/ceremonies", json=body, headers=keyed)
        assert replayed.status_code == 201 and invitees_personal(replayed.json()) == [(ERASED, ERASED)]
        assert {k: v for k, v in replayed.json().items() if k != "invitees"} == {
            k: v for k, v in first.json().items() if k != "invitees"}

        paid_again = await cert.post(pay[0], json=payment, headers=pay[1])
        assert paid_again.status_code == 201, paid_again.text
        assert (paid_again.json()["producer_name"], paid_again.json()["payee"]) == (ERASED, ERASED)

        # a crash after the ceremony was recorded and before its answer was kept: the claim, stale by the
        # service's clock, is taken over; the retry answers as the page does, and keeps nothing in clear
        request = fingerprint("POST", "/ceremonies", {**body, "at": "08:00:00"})
        await env.db["idempotency_keys"].insert_one({
            "_id": "tk-1\x1fceremony-crashed", "request": request,
            "claimed_at": env.clock.now() - STALE - timedelta(seconds=1), "owner": "dead", "answer": None})
        retried = await cert.post("/ceremonies", json=body, headers={**sec, "Idempotency-Key": "ceremony-crashed"})
        assert retried.status_code == 200 and invitees_personal(retried.json()) == [(ERASED, ERASED)], retried.text
        async for doc in env.db["idempotency_keys"].find({}):
            assert name not in str(doc) and number not in str(doc)
