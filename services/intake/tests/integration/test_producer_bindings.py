"""An applicant's account is bound to the producers it files for, verified once by the secretariat (ADR 0037):
a competitor filing first under another producer's registration number blocks no one and gets nothing accepted,
and no 409 tells an applicant anything about another's dossier. Against the real store and broker."""

from __future__ import annotations

import pytest

from ..conftest import dossier_body, round_body

pytestmark = pytest.mark.integration

REAL, COMPETITOR = "htx-mat-ong-luc-nam", "competitor"
ACCEPT = {"product_group": "thực phẩm", "sample_code": "TP-01"}


@pytest.fixture
async def opened(intake, auth, unique):
    r = await intake.post("/rounds", json=round_body(f"B{unique}"), headers=auth("sec-1", "secretariat"))
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def sec(auth):
    return auth("sec-1", "secretariat")


async def file(intake, auth, round_id, who, **kw):
    return await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(**kw),
                             headers=auth(who, "applicant"))


def number_of(**kw) -> str:
    return str(dossier_body(**kw)["producer"]["registration_number"]).upper()


async def bindings_of(intake, headers, **params):
    r = await intake.get("/bindings", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_a_competitor_filing_first_under_a_verified_producers_number_blocks_nothing(intake, auth, opened, sec):
    round_id, number = opened["round_id"], number_of()
    # the producer's account was bound at the counter, its owner's papers checked
    r = await intake.post("/bindings", json={"applicant_id": REAL, "registration_number": number,
                                             "producer_kind": "cooperative",
                                             "note": "Giấy chứng nhận đăng ký hợp tác xã, giấy ủy quyền"},
                          headers=sec)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "verified" and r.json()["decided_by"] == "sec-1"

    fake = await file(intake, auth, round_id, COMPETITOR)
    assert fake.status_code == 201, fake.text
    real = await file(intake, auth, round_id, REAL)
    assert real.status_code == 201, real.text  # the competitor's filing took nothing from the producer
    assert real.json()["dossier_id"] != fake.json()["dossier_id"]

    # the competitor's dossier cannot be accepted: another account is the producer's
    r = await intake.post(f"/dossiers/{fake.json()['dossier_id']}/accept", json=ACCEPT, headers=sec)
    assert r.status_code == 409, r.text
    assert r.json()["binding_status"] == "requested"
    r = await intake.post(f"/dossiers/{real.json()['dossier_id']}/accept", json=ACCEPT, headers=sec)
    assert r.status_code == 201, r.text
    r = await intake.post(f"/dossiers/{fake.json()['dossier_id']}/accept", json=ACCEPT, headers=sec)
    assert r.status_code == 409, r.text

    # the secretariat refuses the competitor's claim: its dossier is rejected with it, and it may file no more
    requested = await bindings_of(intake, sec, registration_number=number, status="requested")
    assert [b["applicant_id"] for b in requested] == [COMPETITOR]
    binding_id = requested[0]["binding_id"]
    r = await intake.post(f"/bindings/{binding_id}/refuse", json={"reason": "Không có giấy ủy quyền của chủ hộ"},
                          headers=sec)
    assert r.status_code == 201, r.text
    assert r.json()["rejected_dossiers"] == [fake.json()["dossier_id"]]
    assert r.json()["binding"]["status"] == "refused" and r.json()["binding"]["decided_by"] == "sec-1"
    detail = (await intake.get(f"/dossiers/{fake.json()['dossier_id']}", headers=sec)).json()
    assert detail["status"] == "rejected"
    assert detail["history"][-1]["actor"] == "sec-1"
    r = await file(intake, auth, round_id, COMPETITOR, product="Mật ong hoa nhãn")
    assert r.status_code == 403, r.text
    real_state = (await intake.get(f"/dossiers/{real.json()['dossier_id']}", headers=sec)).json()
    assert real_state["status"] == "accepted"


async def test_the_completeness_check_verifies_the_first_account_and_no_second(intake, auth, opened, sec):
    """Neither account verified yet: both file, neither blocks the other; accepting one verifies that account,
    recorded as an event with who and when, and the other's dossier of the same product cannot follow it."""
    round_id, number = opened["round_id"], number_of()
    fake = (await file(intake, auth, round_id, COMPETITOR)).json()
    real = (await file(intake, auth, round_id, REAL)).json()
    assert {b["status"] for b in await bindings_of(intake, sec, registration_number=number)} == {"requested"}

    r = await intake.post(f"/dossiers/{real['dossier_id']}/accept", json=ACCEPT, headers=sec)
    assert r.status_code == 201, r.text
    mine = await bindings_of(intake, auth(REAL, "applicant"))
    assert [(b["applicant_id"], b["status"], b["verified_with"], b["decided_by"]) for b in mine] == [
        (REAL, "verified", real["dossier_id"], "sec-1")]
    stored = await intake.app.state.intake.store.read_stream(mine[0]["binding_id"])
    assert [(e.type, e.actor.id) for e in stored] == [("producer_binding.requested", REAL),
                                                       ("producer_binding.verified", "sec-1")]

    r = await intake.post(f"/dossiers/{fake['dossier_id']}/accept", json=ACCEPT, headers=sec)
    assert r.status_code == 409, r.text
    # each applicant sees their own binding only
    theirs = await bindings_of(intake, auth(COMPETITOR, "applicant"), applicant_id=REAL)
    assert [(b["applicant_id"], b["status"]) for b in theirs] == [(COMPETITOR, "requested")]

    # verified now, the producer's next filing takes the producer's own id; its earlier one still counts
    again = await file(intake, auth, round_id, REAL)
    assert again.status_code == 409, again.text


async def test_no_409_tells_an_applicant_about_another_applicants_dossier(intake, auth, opened, sec):
    round_id, number = opened["round_id"], number_of()
    r = await intake.post("/bindings", json={"applicant_id": REAL, "registration_number": number,
                                             "producer_kind": "cooperative"}, headers=sec)
    assert r.status_code == 201, r.text
    real = (await file(intake, auth, round_id, REAL)).json()

    # the competitor learns nothing: its filing is received as any other, and only its own repeat is a 409
    first = await file(intake, auth, round_id, COMPETITOR)
    assert first.status_code == 201, first.text
    again = await file(intake, auth, round_id, COMPETITOR, product=" mật ONG rừng lục nam")
    assert again.status_code == 409
    body = again.json()
    assert set(body) == {"detail", "reason"} and body["reason"] == "duplicate"
    for secret in (real["dossier_id"], real["receipt_number"], REAL):
        assert secret not in again.text
    # the producer's own repeat: the same answer, naming no dossier either
    mine = await file(intake, auth, round_id, REAL)
    assert mine.status_code == 409 and mine.json() == body


async def test_only_the_secretariat_decides_bindings(intake, auth, opened, sec):
    await file(intake, auth, opened["round_id"], COMPETITOR)
    binding_id = (await bindings_of(intake, auth(COMPETITOR, "applicant")))[0]["binding_id"]
    for role in ("applicant", "judge", "council_chair", "approver", "auditor", "certifier"):
        who = auth(COMPETITOR if role == "applicant" else f"someone-{role}", role)
        r = await intake.post(f"/bindings/{binding_id}/verify", json={}, headers=who)
        assert r.status_code == 403, (role, r.text)
        r = await intake.post(f"/bindings/{binding_id}/refuse", json={"reason": "x"}, headers=who)
        assert r.status_code == 403, (role, r.text)
        r = await intake.post("/bindings", json={"applicant_id": COMPETITOR, "registration_number": number_of()},
                              headers=who)
        assert r.status_code == 403, (role, r.text)
    r = await intake.get(f"/bindings/{binding_id}", headers=auth(COMPETITOR, "applicant"))
    assert r.status_code == 403
    assert (await intake.get(f"/bindings/{binding_id}", headers=sec)).json()["status"] == "requested"

    # the secretariat's verification holds once: a second one is a 409 naming the state
    r = await intake.post(f"/bindings/{binding_id}/verify", json={"note": "Giấy ủy quyền số 12/UQ"}, headers=sec)
    assert r.status_code == 201, r.text
    r = await intake.post(f"/bindings/{binding_id}/verify", json={}, headers=sec)
    assert r.status_code == 409 and r.json()["current_status"] == "verified"


async def test_a_counter_binding_never_keeps_a_households_number_in_clear(intake, auth, opened, sec, unique):
    """No kind said (ADR 0048, amendment): a number only an individual holds is sealed; a number that may be a
    household's is refused with 422 naming ``producer_kind``, recording nothing; a number the account filed for as
    an organisation stays clear."""
    store, db = intake.app.state.intake.store, intake.app.state.intake.rt.db
    ambiguous = f"01{int(unique, 16) % 10**8:08d}"  # a 10-digit tax code: an enterprise's, or a household's
    r = await intake.post("/bindings", json={"applicant_id": REAL, "registration_number": ambiguous}, headers=sec)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "producer_kind" and "hộ kinh doanh" in r.json()["detail"]
    assert await bindings_of(intake, sec, registration_number=ambiguous) == []

    for number in (f"{int(unique, 16) % 10**12:012d}", f"24A8{int(unique, 16) % 10**6:06d}"):  # CCCD; district's
        r = await intake.post("/bindings", json={"applicant_id": REAL, "registration_number": number.lower()},
                              headers=sec)
        assert r.status_code == 201, r.text
        assert r.json()["registration_number"] == number.upper()  # opened for the secretariat
        stored = await store.read_stream(r.json()["binding_id"])
        assert [e.type for e in stored] == ["producer_binding.verified"]
        assert stored[0].data["registration_number"]["enc"] == "A256GCM", stored[0].data
        assert number.upper() not in str(stored[0].data)
        kept = await db["bindings"].find_one({"_id": r.json()["binding_id"]})
        assert kept is not None and number.upper() not in str(kept), kept

    # the account's filing declared a cooperative, which proves nothing (ADR 0048, fourth amendment): its binding
    # was asked sealed, and the counter, told no kind, keeps it so
    await file(intake, auth, opened["round_id"], COMPETITOR, regno=ambiguous)
    r = await intake.post("/bindings", json={"applicant_id": COMPETITOR, "registration_number": ambiguous},
                          headers=sec)
    assert r.status_code == 201, r.text
    assert r.json()["registration_number"] == ambiguous  # opened for the secretariat
    stored = await store.read_stream(r.json()["binding_id"])
    assert [e.type for e in stored] == ["producer_binding.requested", "producer_binding.verified"]
    assert all(ambiguous not in str(e.data) for e in stored), [e.data for e in stored]


@pytest.mark.parametrize("kind", ["cooperative", "household"])
async def test_a_binding_names_its_producer_after_its_verification(intake, auth, opened, sec, kind, unique):
    name = f"Hộ kinh doanh Lương Thị Mai {unique}" if kind == "household" else "Hợp tác xã Nông nghiệp Đông Hưng"
    body = dossier_body()
    body["producer"].update(kind=kind, name=name)
    r = await intake.post(f"/rounds/{opened['round_id']}/dossiers", json=body, headers=auth(REAL, "applicant"))
    assert r.status_code == 201, r.text
    binding_id = (await bindings_of(intake, auth(REAL, "applicant")))[0]["binding_id"]
    assert (await intake.get(f"/bindings/{binding_id}", headers=sec)).json()["producer_name"] == name

    r = await intake.post(f"/bindings/{binding_id}/verify", json={"note": "Giấy ủy quyền số 12/UQ"}, headers=sec)
    assert r.status_code == 201, r.text
    assert r.json()["producer_name"] == name, r.text
    r = await intake.get(f"/bindings/{binding_id}", headers=sec)
    assert r.json()["status"] == "verified" and r.json()["producer_name"] == name, r.text
    listed = await bindings_of(intake, sec, registration_number=number_of())
    assert [b["producer_name"] for b in listed] == [name]


@pytest.mark.parametrize("kind", ["enterprise", "cooperative", "cooperative_group"])
async def test_a_filing_for_an_organisation_under_a_households_number_is_refused(intake, auth, opened, unique, kind):
    """The counter's shape rule at filing (ADR 0048, second amendment of 2026-11-29): an organisation's dossier under a
    number only an individual holds would put a household's number in clear on the forever topic. Refused, 422
    naming ``producer_kind``, saying in Vietnamese why; nothing is recorded. Declared a household, it is received,
    sealed."""
    store = intake.app.state.intake.store
    numbers = (f"{int(unique, 16) % 10**12:012d}", f"24A8{int(unique, 16) % 10**6:06d}")  # a CCCD; a district's
    for filed, number in enumerate(numbers, start=1):
        body = dossier_body(regno=number)
        body["producer"]["kind"] = kind
        r = await intake.post(f"/rounds/{opened['round_id']}/dossiers", json=body, headers=auth(REAL, "applicant"))
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "producer_kind", r.json()
        assert "có dạng số của hộ kinh doanh" in r.json()["detail"] and number not in r.text
        assert await bindings_of(intake, auth("sec-1", "secretariat"), registration_number=number) == []
        body["producer"]["kind"] = "household"
        r = await intake.post(f"/rounds/{opened['round_id']}/dossiers", json=body, headers=auth(REAL, "applicant"))
        assert r.status_code == 201, r.text
        [received] = await store.read_stream(r.json()["dossier_id"])
        assert received.data["producer"]["registration_number"]["enc"] == "A256GCM"
        assert r.json()["receipt_number"].endswith(f"{filed:05d}"), "the refusal took no receipt number"
