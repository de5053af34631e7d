"""A declared kind proves nothing (ADR 0048, fourth amendment): a household's 10-digit tax code filed as a
cooperative's goes sealed onto intake.events, erasable; only the secretariat's acceptance, which verifies the
producer, carries an organisation's name and number in clear. Against the real store and broker."""

from __future__ import annotations

import json

import pytest

from binhchon_kit.personal import ERASED
from binhchon_kit.testing.fixtures import TopicReader

from ..conftest import dossier_body, round_body

pytestmark = pytest.mark.integration

ACCEPT = {"product_group": "thực phẩm", "sample_code": "TP-01"}


async def filed_as_cooperative(intake, auth, unique: str, applicant: str) -> tuple[str, str, str]:
    """A filing declared a cooperative's under a 10-digit number: the round, the dossier, the number and name."""
    sec = auth("sec-1", "secretariat")
    r = await intake.post("/rounds", json=round_body(f"O{unique}"), headers=sec)
    assert r.status_code == 201, r.text
    number = f"01{int(unique, 16) % 10**8:08d}"  # an enterprise's, a cooperative's or a household's alike
    body = dossier_body(regno=number)
    body["producer"].update(kind="cooperative", name=f"Hộ kinh doanh Lương Văn Tám {unique}")
    r = await intake.post(f"/rounds/{r.json()['round_id']}/dossiers", json=body, headers=auth(applicant, "applicant"))
    assert r.status_code == 201, r.text
    return r.json()["dossier_id"], number, body["producer"]["name"]


async def on_topic(infra, topic_prefix: str, subject: str, types: set[str]) -> list:
    async with TopicReader(infra.kafka, f"{topic_prefix}intake.events") as reader:
        events = await reader.wait_for(lambda es: types <= {e.type for e in es if e.subject == subject},
                                       what=f"{sorted(types)} of {subject} on intake.events")
    return [e for e in events if e.subject == subject]


async def test_a_filing_declared_a_cooperatives_puts_neither_number_nor_name_in_clear_and_is_erasable(
        intake, auth, infra, topic_prefix, unique):
    dossier_id, number, name = await filed_as_cooperative(intake, auth, unique, "attacker")
    [received] = await on_topic(infra, topic_prefix, dossier_id, {"dossier.received"})
    assert received.dataschema.endswith("/dossier.received/v4.json")
    assert received.data["producer"]["kind"] == "cooperative"
    assert received.data["producer"]["registration_number"]["enc"] == "A256GCM"
    assert received.data["producer"]["name"]["enc"] == "A256GCM"
    async with TopicReader(infra.kafka, f"{topic_prefix}intake.events") as reader:
        everything = await reader.wait_for(lambda es: any(e.type == "producer_binding.requested" for e in es),
                                           what="the filing account's binding request")
    for event in everything:  # the binding its filing asked for too
        text = json.dumps(event.data, ensure_ascii=False)
        assert number not in text and name not in text, event.type
    sec = auth("sec-1", "secretariat")
    shown = (await intake.get(f"/dossiers/{dossier_id}", headers=sec)).json()["producer"]
    assert (shown["registration_number"], shown["name"]) == (number, name)  # opened for the secretariat

    r = await intake.post(f"/producers/{number}/erasure", headers=sec)
    assert r.status_code == 201, r.text
    assert r.json()["dossier_ids"] == [dossier_id]
    shown = (await intake.get(f"/dossiers/{dossier_id}", headers=sec)).json()
    assert shown["producer"]["registration_number"] == ERASED and shown["producer"]["name"] == ERASED
    assert number not in json.dumps(shown, ensure_ascii=False) and name not in json.dumps(shown, ensure_ascii=False)
    items = (await intake.get("/dossiers", headers=sec)).json()["items"]
    [listed] = [d for d in items if d["dossier_id"] == dossier_id]
    assert listed["producer"]["name"] == ERASED and number not in json.dumps(listed)
    r = await intake.post(f"/dossiers/{dossier_id}/accept", json=ACCEPT, headers=sec)
    assert r.status_code == 409 and "erased" in r.json()["detail"], r.text  # nothing left to make public
    kept = await intake.app.state.intake.rt.db["dossiers"].find_one({"_id": dossier_id})
    assert number not in json.dumps(kept, default=str) and name not in json.dumps(kept, default=str, ensure_ascii=False)


async def test_a_genuine_cooperative_is_named_in_clear_from_its_acceptance(intake, auth, infra, topic_prefix, unique):
    dossier_id, number, name = await filed_as_cooperative(intake, auth, unique, "htx-dong-hung")
    sec = auth("sec-1", "secretariat")
    r = await intake.post(f"/dossiers/{dossier_id}/accept", json=ACCEPT, headers=sec)
    assert r.status_code == 201, r.text
    events = await on_topic(infra, topic_prefix, dossier_id, {"dossier.received", "dossier.accepted"})
    accepted = next(e for e in events if e.type == "dossier.accepted")
    assert accepted.data["producer_name"] == name  # the secretariat verified it: public, as scoring shows it
    assert accepted.data["producer_registration_number"] == number
    received = next(e for e in events if e.type == "dossier.received")
    assert number not in json.dumps(received.data), "what was filed stays as it was filed"
