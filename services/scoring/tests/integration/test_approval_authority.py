"""Who decides a round's results (ADR 0029), over HTTP with intake and scoring on the real broker and store: the
round names its approving authority (here not its organiser: a Sở Công Thương organises, the UBND tỉnh decides);
an approver of any other authority is refused (403) and decides nothing; the decision recorded is the round's
authority's, whatever name the approver types."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from binhchon_kit import claims
from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.events import Actor, Cause
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.memory import FixedClock
from binhchon_kit.testing.samples import department_round_body, dossier_body
from intake.main import IntakeSettings
from intake.main import build as build_intake
from scoring import service as service_module
from scoring.decision_leases import DECISION_LEASE, Recording
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring
from scoring.service import Scoring

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 23, 26, tzinfo=UTC)  # intake's clock: 23/11 in Vietnam
TODAY = datetime(2026, 11, 23).date()
MEMBERS = [{"id": "cm-1", "name": "Trần Văn Chủ", "organisation": "UBND tỉnh", "role": "chair"},
           {"id": "cm-2", "name": "Nguyễn Thị Hai", "organisation": "Sở Công Thương", "role": "member"}]


def settings(cls: Any, service: str, infra: Any, unique: str, prefix: str, key: str) -> Any:
    return cls(mongodb_url=infra.mongodb, mongodb_database=f"{service}_{unique}", kafka_bootstrap_servers=infra.kafka,
               kafka_topic_prefix=prefix, auth_public_keys_file=key)


@pytest.fixture
async def services(infra, unique, topic_prefix, dev_keys):
    key = str(dev_keys[1])
    async with running(build_intake(settings(IntakeSettings, "intake", infra, unique, topic_prefix, key),
                                    lambda: NOW), "http://intake") as intake, \
            running(build_scoring(settings(ScoringSettings, "scoring", infra, unique, topic_prefix, key)),
                    "http://scoring") as scoring:
        yield intake, scoring


async def proposed(intake: Any, scoring: Any, auth: Any, code: str, dossiers: int = 1) -> dict[str, Any]:
    """A province round organised by the Sở Công Thương and decided by the UBND tỉnh, ``dossiers`` scored to
    completion, and the chair's proposal."""
    sec = auth("tk-1", "secretariat")
    r = await intake.post("/rounds", headers=sec, json=department_round_body(code, TODAY))
    assert r.status_code == 201, r.text
    round_id = r.json()["round_id"]
    assert r.json()["approving_authority"] == {"id": "province:24", "name": "UBND tỉnh Bắc Giang"}

    async def panel():
        r = await scoring.post(f"/rounds/{round_id}/panel", headers=sec, json={"name": "Hội đồng", "members": MEMBERS})
        return r if r.status_code != 409 or "has not heard" not in r.text else None

    assert (await eventually(panel, what="scoring to hear of the round")).status_code == 201
    sheet = (await scoring.get("/rulebooks/ocop-2023")).json()["sheets"][0]["criteria"]
    dossier_ids = []
    for n in range(1, dossiers + 1):
        applicant = auth(f"htx-{n}", "applicant")
        await upload_documents(intake, applicant)
        receipt = (await intake.post(f"/rounds/{round_id}/dossiers", headers=applicant,
                                     json=dossier_body(f"Mật ong rừng số {n}", f"24001234{n:02d}"))).json()
        dossier_id = receipt["dossier_id"]
        r = await intake.post(f"/dossiers/{dossier_id}/accept", headers=sec,
                              json={"product_group": "thực phẩm", "sample_code": f"TP-{n:02d}"})
        assert r.status_code == 201, r.text

        async def opened(dossier_id: str = dossier_id) -> bool:
            r = await scoring.get(f"/dossiers/{dossier_id}", headers=sec)
            return r.status_code == 200

        await eventually(opened, what="scoring to open the dossier")
        for member, role in (("cm-1", "council_chair"), ("cm-2", "judge")):
            r = await scoring.post(f"/dossiers/{dossier_id}/score-sheets", headers=auth(member, role),
                                   json={"scores": {c["code"]: c["maximum"] for c in sheet}})
            assert r.status_code == 201, r.text
        dossier_ids.append(dossier_id)
    r = await scoring.post(f"/rounds/{round_id}/proposals", headers=auth("cm-1", "council_chair"))
    assert r.status_code == 201, r.text
    return {"proposal_id": r.json()["proposal_id"], "dossier_id": dossier_ids[0], "dossier_ids": dossier_ids,
            "round_id": round_id}


async def test_only_an_approver_of_the_rounds_authority_decides_and_the_decision_is_its_own(services, auth, unique):
    intake, scoring = services
    got = await proposed(intake, scoring, auth, f"AU{unique}")
    path = f"/proposals/{got['proposal_id']}/approval"
    decision = {"number": "88/QĐ-UBND", "date": TODAY.isoformat(), "signer": "Phó Chủ tịch UBND tỉnh"}

    # Đắk Lắk's approver, one with no authority, a district's of the province: refused, naming why
    for others in [("province:66",), (), ("district:219",)]:
        r = await scoring.post(path, headers=auth("ubnd-x", "approver", authorities=others),
                               json={"decision": {**decision, "authority": "UBND tỉnh Bắc Giang"}})
        assert r.status_code == 403, r.text
        assert r.json()["reason"] == "not_this_authority" and r.json()["authority_id"] == "province:24"
    bac_giang = auth("ubnd-bg", "approver", authorities=("province:24",))
    r = await scoring.post(path, headers=bac_giang, json={"decision": {**decision, "authority": "UBND tỉnh Đắk Lắk"}})
    assert r.status_code == 422 and r.json()["field"] == "decision.authority", r.text
    state = (await scoring.get(f"/dossiers/{got['dossier_id']}", headers=auth("tk-1", "secretariat"))).json()
    assert state["status"] == "completed"  # nothing was decided by the refused calls

    r = await scoring.post(path, headers=bac_giang, json={"decision": decision})  # the authority may be left out
    assert r.status_code == 201, r.text
    [outcome] = r.json()
    assert outcome["decision"]["authority"] == "UBND tỉnh Bắc Giang"  # the round's, not its organiser
    assert outcome["decision"]["authority_id"] == "province:24"


async def test_an_approval_before_scoring_has_heard_of_the_round_again_is_told_to_come_back_not_refused(
        services, auth, unique):
    """Scoring's database restored from its topic (ADR 0047): its own events are back at once, intake's
    round.opened only once its consumer has caught up. An approval meanwhile is early, not wrong: 503 with
    Retry-After naming intake, nothing decided; the same call succeeds once the round is heard of again (the fault
    suite's restore once got a 403 here, "open to own authority only", and stopped its season)."""
    intake, scoring = services
    got = await proposed(intake, scoring, auth, f"AH{unique}")
    db = scoring.app.state.runtime.db
    heard = await db["rounds"].find_one({"_id": got["round_id"]})
    await db["rounds"].delete_one({"_id": got["round_id"]})  # as after a restore, before the consumer catches up
    scoring.app.state.scoring.round_wait = 0.5
    path = f"/proposals/{got['proposal_id']}/approval"
    bac_giang = auth("ubnd-bg", "approver", authorities=("province:24",))
    decision = {"decision": {"number": "89/QĐ-UBND", "date": TODAY.isoformat(), "signer": "Phó Chủ tịch UBND tỉnh"}}
    r = await scoring.post(path, headers=bac_giang, json=decision)
    assert r.status_code == 503, r.text
    assert r.json()["dependency"] == "intake" and int(r.headers["Retry-After"]) > 0
    state = (await scoring.get(f"/dossiers/{got['dossier_id']}", headers=auth("tk-1", "secretariat"))).json()
    assert state["status"] == "completed"  # nothing was decided
    # another authority's approver is still refused once the round is known; the round's own decides
    await db["rounds"].insert_one(heard)
    r = await scoring.post(path, headers=auth("ubnd-x", "approver", authorities=("province:66",)), json=decision)
    assert r.status_code == 403, r.text
    r = await scoring.post(path, headers=bac_giang, json=decision)
    assert r.status_code == 201, r.text


async def test_concurrent_approvals_of_one_proposal_record_one_decision_and_the_others_are_told_409(
        services, auth, unique):
    """Approvers pressing at once (two offices, a double click): one decision is recorded, the others answer 409
    naming the conflict, never 500."""
    intake, scoring = services
    got = await proposed(intake, scoring, auth, f"AC{unique}")
    path = f"/proposals/{got['proposal_id']}/approval"
    bac_giang = auth("ubnd-bg", "approver", authorities=("province:24",))
    # the app's errors as answers (a 500 included), as a server would give them
    transport = httpx.ASGITransport(app=scoring.app, raise_app_exceptions=False)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as client:
        answers = await asyncio.gather(*(
            client.post(path, headers=bac_giang, json={"decision": {
                "number": f"{n}/QĐ-UBND", "date": TODAY.isoformat(), "signer": "Phó Chủ tịch UBND tỉnh"}})
            for n in range(1, 7)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] + [409] * 5, [r.text for r in answers]
    [winner] = [r for r in answers if r.status_code == 201]
    [outcome] = winner.json()
    for loser in (r for r in answers if r.status_code == 409):
        assert loser.json()["detail"], loser.text
    stream = "scoring-" + got["dossier_id"].removeprefix("dossier-")
    history = [e for e in await scoring.app.state.runtime.store.read_stream(stream) if "decision" in e.data]
    assert [e.data["decision"]["number"] for e in history] == [outcome["decision"]["number"]]


async def test_an_approver_lists_the_proposals_awaiting_their_own_authority_until_decided(services, auth, unique):
    """The approver's start list (issue 15): their own authority's proposals awaiting a decision, oldest first, page
    by page; nobody else's; a decision takes out every proposal it settles; a crash between a proposal and its
    place in the list is put right at the next start."""
    intake, scoring = services
    got = await proposed(intake, scoring, auth, f"AL{unique}")
    again = await scoring.post(f"/rounds/{got['round_id']}/proposals", headers=auth("cm-1", "council_chair"))
    assert again.status_code == 201, again.text  # the chair proposes again: the same dossier, a second table
    bac_giang = auth("ubnd-bg", "approver", authorities=("province:24",))

    first = await scoring.get("/proposals/awaiting", params={"limit": 1}, headers=bac_giang)
    assert first.status_code == 200, first.text
    [item] = first.json()["items"]
    assert item["proposal_id"] == got["proposal_id"] and first.json()["limit"] == 1  # the longest waiting first
    assert (item["round_id"], item["round_code"], item["level"]) == (got["round_id"], f"AL{unique}".upper(), "province")
    assert (item["dossiers"], item["undecided"], item["authority_id"]) == (1, 1, "province:24")
    assert "page_key" not in item and "authority_key" not in item
    second = await scoring.get("/proposals/awaiting", params={"after": first.json()["next"]}, headers=bac_giang)
    assert [i["proposal_id"] for i in second.json()["items"]] == [again.json()["proposal_id"]]
    assert second.json()["next"] is None
    both = auth("ubnd-2", "approver", authorities=("province:66", "province:24"))  # acting for two provinces
    assert len((await scoring.get("/proposals/awaiting", headers=both)).json()["items"]) == 2

    for others in [("province:66",), (), ("district:219",)]:  # another authority's approver sees none
        r = await scoring.get("/proposals/awaiting", headers=auth("ubnd-x", "approver", authorities=others))
        assert r.status_code == 200 and r.json() == {"items": [], "limit": 50, "next": None}, r.text
    for role in ("secretariat", "council_chair", "judge", "applicant"):
        assert (await scoring.get("/proposals/awaiting", headers=auth("x", role))).status_code == 403
    r = await scoring.get("/proposals/awaiting", params={"after": "bm90LWEta2V5"}, headers=bac_giang)
    assert r.status_code == 422 and "after" in r.text, r.text

    # a power cut between the proposal and the list: the next start puts it back
    svc = scoring.app.state.scoring  # type: ignore[attr-defined]
    await svc.awaited.rows.delete_one({"_id": got["proposal_id"]})
    assert len((await scoring.get("/proposals/awaiting", headers=bac_giang)).json()["items"]) == 1
    await svc.setup()
    assert len((await scoring.get("/proposals/awaiting", headers=bac_giang)).json()["items"]) == 2

    decision = {"number": "90/QĐ-UBND", "date": TODAY.isoformat(), "signer": "Phó Chủ tịch UBND tỉnh"}
    r = await scoring.post(f"/proposals/{got['proposal_id']}/approval", headers=bac_giang, json={"decision": decision})
    assert r.status_code == 201, r.text
    # decided, with the other table that held the same dossier
    assert (await scoring.get("/proposals/awaiting", headers=bac_giang)).json()["items"] == []
    await svc.setup()  # and a restart does not bring them back
    assert (await scoring.get("/proposals/awaiting", headers=bac_giang)).json()["items"] == []


async def test_a_decision_a_crash_left_part_way_is_finished_by_scoring_and_a_repeat_meanwhile_told_to_come_back(
        infra, unique, topic_prefix, dev_keys, auth):
    """The fault suite's SIGKILL (issue 14): scoring died recording a decision, some of the proposal's results
    written, its lease never released, and came back while the lease still held. The approval asked again meanwhile
    is told to come back when the lease is over (503, Retry-After its remaining seconds), not a 409 a client reads
    as done; another decision is refused (409). Once the lease has lapsed scoring finishes the decision by itself,
    nobody asking again: every dossier decided once, by that decision; asked again then, nothing is decided twice."""
    key = str(dev_keys[1])
    clock = FixedClock(NOW)  # scoring's clock: its leases' time and its events'

    def scoring_app() -> Any:
        config = settings(ScoringSettings, "scoring", infra, unique, topic_prefix, key)
        config.decision_repair_seconds = 0.2
        return build_scoring(config, clock=clock)

    bac_giang = auth("ubnd-bg", "approver", authorities=("province:24",))
    decision = {"number": "90/QĐ-UBND", "date": TODAY.isoformat(), "signer": "Phó Chủ tịch UBND tỉnh"}
    async with running(build_intake(settings(IntakeSettings, "intake", infra, unique, topic_prefix, key),
                                    lambda: NOW), "http://intake") as intake:
        async with running(scoring_app(), "http://scoring") as scoring:
            got = await proposed(intake, scoring, auth, f"AK{unique}", dossiers=3)
            path = f"/proposals/{got['proposal_id']}/approval"
            first, *rest = got["dossier_ids"]
            # the dead holder's writes: its first dossier's result, and its lease on the whole decision, unreleased
            r = await scoring.post(path, headers=bac_giang, json={"decision": decision, "dossier_ids": [first]})
            assert r.status_code == 201, r.text
            holder = Recording(got["proposal_id"], DecisionReference.model_validate(r.json()[0]["decision"]),
                               tuple(got["dossier_ids"]), Actor("ubnd-bg", ("approver",)),
                               Cause("corr-killed", "http:corr-killed"))
            db = scoring.app.state.runtime.db
            assert await claims.take(db["decision_leases"], got["proposal_id"],
                                     holder.fields(NOW + DECISION_LEASE), claims.lapsed("until", NOW)) is not None

        clock.now = NOW + timedelta(seconds=10)  # restarted inside the dead holder's lease
        async with running(scoring_app(), "http://scoring") as scoring:
            r = await scoring.post(path, headers=bac_giang, json={"decision": decision})
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"] == "20" and r.json()["proposal_id"] == got["proposal_id"], r.text
            other = {**decision, "number": "91/QĐ-UBND"}
            r = await scoring.post(path, headers=bac_giang, json={"decision": other})
            assert r.status_code == 409 and "another decision" in r.json()["detail"], r.text
            store = scoring.app.state.runtime.store

            async def decisions(dossier_id: str) -> list[Any]:
                stream = "scoring-" + dossier_id.removeprefix("dossier-")
                return [e for e in await store.read_stream(stream) if "decision" in e.data]

            assert [len(await decisions(d)) for d in rest] == [0, 0]  # nothing taken over while the lease holds

            clock.now = NOW + DECISION_LEASE + timedelta(seconds=1)

            async def finished() -> list[list[Any]] | None:
                each = [await decisions(d) for d in got["dossier_ids"]]
                return each if all(each) else None

            each = await eventually(finished, timeout=60, what="scoring to finish the decision left part way")
            assert [len(events) for events in each] == [1, 1, 1]
            assert {e.data["decision"]["number"] for events in each for e in events} == {decision["number"]}
            assert {e.actor.id for events in each[1:] for e in events} == {"ubnd-bg"}  # the approver's, as asked

            async def settled() -> dict[str, Any] | None:
                row = await scoring.app.state.runtime.db["awaited_decisions"].find_one({"_id": got["proposal_id"]})
                return row if row is not None and row["undecided"] == 0 else None

            await eventually(settled, what="the approvers' list to show the proposal decided")
            r = await scoring.post(path, headers=bac_giang, json={"decision": decision})
            assert r.status_code == 201 and r.json() == [], r.text  # asked again: nothing decided twice
            r = await scoring.post(path, headers=bac_giang, json={"decision": other})
            assert r.status_code == 409 and "decided already" in r.json()["detail"], r.text
            assert [len(await decisions(d)) for d in got["dossier_ids"]] == [1, 1, 1]


class OtherReplica:
    """Scoring's decision recording, seen between two dossiers' results (after ``record`` of the holder's each):
    ``between`` runs there, with the other replica (a second ``Scoring`` on the same store and clock) at hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, svc: Any,
                 between: Callable[[int], Awaitable[None]]) -> None:
        self.other = Scoring(svc.rt, svc.rulebooks, round_wait=0, sealing=svc.sealing)
        self.written: list[str] = []  # the holder's results, by dossier
        self.inside_other = False
        real = service_module.record

        async def watched(*args: Any, **kwargs: Any) -> Any:
            if self.inside_other:
                return await real(*args, **kwargs)
            recorded = await real(*args, **kwargs)
            self.written.append(recorded.subject)
            await between(len(self.written))
            return recorded

        monkeypatch.setattr(service_module, "record", watched)

    async def repair(self) -> int:
        """The other replica's repair loop, one pass (DECISION_REPAIR_SECONDS)."""
        self.inside_other = True
        try:
            return int(await self.other.finish_left_decisions())
        finally:
            self.inside_other = False


@pytest.fixture
async def scoring_on_clock(infra, unique, topic_prefix, dev_keys) -> AsyncIterator[tuple[Any, Any, FixedClock]]:
    """Intake, and scoring on a clock of the test's, its own repair loop out of the way (the other replica's is run
    by hand)."""
    key, clock = str(dev_keys[1]), FixedClock(NOW)
    config = settings(ScoringSettings, "scoring", infra, unique, topic_prefix, key)
    config.decision_repair_seconds = 3600
    async with running(build_intake(settings(IntakeSettings, "intake", infra, unique, topic_prefix, key),
                                    lambda: NOW), "http://intake") as intake, \
            running(build_scoring(config, clock=clock), "http://scoring") as scoring:
        yield intake, scoring, clock


def numbered(number: str) -> dict[str, str]:
    return {"number": number, "date": TODAY.isoformat(), "signer": "Phó Chủ tịch UBND tỉnh"}


async def decision_numbers(scoring: Any, dossier_ids: list[str]) -> list[list[str]]:
    """Each dossier's recorded decisions, by number."""
    store = scoring.app.state.runtime.store
    return [[e.data["decision"]["number"] for e in await store.read_stream("scoring-" + d.removeprefix("dossier-"))
             if "decision" in e.data] for d in dossier_ids]


async def test_a_long_decision_renews_its_lease_and_no_other_replica_finishes_it_alongside(
        scoring_on_clock, unique, auth, monkeypatch):
    """Issue 14: a decision over many dossiers outlived its lease (30 s), and another replica's repair loop could
    take it over and finish it alongside its living holder. The holder renews the lease while it records: the other
    replica, looking between every two results while the decision lasts 1.6 leases (the clock advanced), finds
    nothing to take over; every dossier decided once, by the holder, and the lease released at the end."""
    (intake, scoring, clock), decision = scoring_on_clock, numbered("92/QĐ-UBND")
    bac_giang = auth("ubnd-bg", "approver", authorities=("province:24",))
    got = await proposed(intake, scoring, auth, f"AR{unique}", dossiers=4)
    taken_over: list[int] = []

    async def slow(_written: int) -> None:
        clock.now += DECISION_LEASE * 0.4  # each result takes 12 s of the service's time
        taken_over.append(await watch.repair())

    watch = OtherReplica(monkeypatch, scoring.app.state.scoring, slow)
    r = await scoring.post(f"/proposals/{got['proposal_id']}/approval", headers=bac_giang,
                           json={"decision": decision})
    assert taken_over == [0, 0, 0, 0], "another replica took over a decision its holder was recording"
    assert clock.now - NOW > DECISION_LEASE * 1.5  # the decision outlived its first lease
    assert r.status_code == 201 and len(r.json()) == 4, r.text
    assert sorted(watch.written) == sorted(got["dossier_ids"])
    assert await decision_numbers(scoring, got["dossier_ids"]) == [[decision["number"]]] * len(got["dossier_ids"])
    lease = await claims.newest(scoring.app.state.runtime.db["decision_leases"], got["proposal_id"])
    assert lease is not None and lease["released"] and claims.generation(lease) >= 1  # renewed, then released


async def test_a_holder_stalled_past_its_lease_finds_it_taken_over_and_writes_nothing_more(
        scoring_on_clock, unique, auth, monkeypatch):
    """The attacker's (or a frozen VM's) case: the holder stalls after its first result for longer than the lease;
    the other replica's repair loop takes the lapsed lease over and finishes the decision. The holder, resumed,
    finds the lease taken over and stops: it writes no second result, and its caller is told to come back (503);
    asked again, nothing is decided twice."""
    (intake, scoring, clock), decision = scoring_on_clock, numbered("93/QĐ-UBND")
    bac_giang = auth("ubnd-bg", "approver", authorities=("province:24",))
    got = await proposed(intake, scoring, auth, f"AS{unique}", dossiers=3)
    finished: list[int] = []

    async def stalls(written: int) -> None:
        if written == 1:
            clock.now += DECISION_LEASE + timedelta(seconds=1)
            finished.append(await watch.repair())

    watch = OtherReplica(monkeypatch, scoring.app.state.scoring, stalls)
    path = f"/proposals/{got['proposal_id']}/approval"
    r = await scoring.post(path, headers=bac_giang, json={"decision": decision})
    assert finished == [1], "the other replica did not take the lapsed decision over"
    assert r.status_code == 503 and r.json()["proposal_id"] == got["proposal_id"], r.text
    assert watch.written == got["dossier_ids"][:1], "the holder wrote on after its lease was taken over"
    assert await decision_numbers(scoring, got["dossier_ids"]) == [[decision["number"]]] * len(got["dossier_ids"])
    r = await scoring.post(path, headers=bac_giang, json={"decision": decision})
    assert r.status_code == 201 and r.json() == [], r.text  # asked again: nothing decided twice


async def test_a_holder_stalled_after_its_last_result_is_taken_over_and_the_decision_is_recorded_once(
        scoring_on_clock, unique, auth, monkeypatch):
    """The power cut's edge: every result written, the holder stalls before its release for longer than the lease;
    the other replica's repair loop takes the lapsed lease over and finds nothing left to write. The decision is
    neither finished twice nor left half: each dossier decided once, the holder's caller told it is done (201),
    the lease released, and asked again nothing more is written."""
    (intake, scoring, clock), decision = scoring_on_clock, numbered("95/QĐ-UBND")
    bac_giang = auth("ubnd-bg", "approver", authorities=("province:24",))
    got = await proposed(intake, scoring, auth, f"AT{unique}", dossiers=3)
    finished: list[int] = []

    async def stalls_at_the_end(written: int) -> None:
        if written == len(got["dossier_ids"]):
            clock.now += DECISION_LEASE + timedelta(seconds=1)
            finished.append(await watch.repair())

    watch = OtherReplica(monkeypatch, scoring.app.state.scoring, stalls_at_the_end)
    path = f"/proposals/{got['proposal_id']}/approval"
    r = await scoring.post(path, headers=bac_giang, json={"decision": decision})
    assert finished == [1], "the other replica did not take the lapsed decision over"
    assert r.status_code == 201 and len(r.json()) == len(got["dossier_ids"]), r.text
    assert sorted(watch.written) == sorted(got["dossier_ids"]), "a result written by the other replica too"
    assert await decision_numbers(scoring, got["dossier_ids"]) == [[decision["number"]]] * len(got["dossier_ids"])
    lease = await claims.newest(scoring.app.state.runtime.db["decision_leases"], got["proposal_id"])
    assert lease is not None and lease["released"]
    assert await watch.repair() == 0, "a finished decision is taken over again"
    r = await scoring.post(path, headers=bac_giang, json={"decision": decision})
    assert r.status_code == 201 and r.json() == [], r.text


async def test_another_decision_asked_while_a_holder_is_stalled_does_not_leave_the_first_half_recorded(
        scoring_on_clock, unique, auth, monkeypatch):
    """The attacker's and the power cut's case together: the holder of decision A stalls after its first result for
    longer than the lease; meanwhile an approver asks decision B on the same proposal. B is refused (409: A is under
    way, or left part way, and is finished first) without taking A's lease, so A's record of what to finish stays:
    the holder, resumed, renews its own lease and records A on every dossier. (B used to take the lapsed lease, be
    refused and release it: A's record was gone, its holder found the lease taken and stopped, and A was left on
    one dossier of three with nothing left to finish it.)"""
    (intake, scoring, clock), first, second = scoring_on_clock, numbered("96/QĐ-UBND"), numbered("97/QĐ-UBND")
    bac_giang = auth("ubnd-bg", "approver", authorities=("province:24",))
    got = await proposed(intake, scoring, auth, f"AU{unique}", dossiers=3)
    path = f"/proposals/{got['proposal_id']}/approval"
    answered: list[Any] = []

    async def another_asked(written: int) -> None:
        if written == 1:
            clock.now += DECISION_LEASE + timedelta(seconds=1)
            watch.inside_other = True
            try:
                answered.append(await scoring.post(path, headers=bac_giang, json={"decision": second}))
            finally:
                watch.inside_other = False

    watch = OtherReplica(monkeypatch, scoring.app.state.scoring, another_asked)
    r = await scoring.post(path, headers=bac_giang, json={"decision": first})
    assert [a.status_code for a in answered] == [409], [a.text for a in answered]
    assert r.status_code == 201 and len(r.json()) == len(got["dossier_ids"]), r.text
    assert await decision_numbers(scoring, got["dossier_ids"]) == [[first["number"]]] * len(got["dossier_ids"])
    assert await watch.repair() == 0
