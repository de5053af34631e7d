"""binhchon-audit from Kafka, on the real broker and server: a round played by intake, scoring and certification
in-process verifies; tampered copies of its events (on a topic set of their own) are named; the stores compare
with the topics; a dossier's timeline spans both levels in causal order; read models rebuild to the same
answers; a round re-aggregated under another rulebook version shows what would change.

The round (as in tests/e2e/test_full_round.py, rulebook ocop-2023 v2, province): honey 97.33 → 5 stars, goes up
to the national round; tea 75.86 → 4 stars, recognised (one certificate); rice cake 72.00 → band 4, C4 unmet →
3 stars, not recognised. Clocks are fixed (2026-11-20 in Vietnam); nothing reads the machine's.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.infra import Infra
from binhchon_kit.testing.samples import (
    BANH_DA,
    BANH_DA_CHANGES,
    CHE,
    CHE_CHANGES,
    MEMBERS,
    dossier_body,
    round_body,
)
from binhchon_kit.testing.stored_events import alter_data
from binhchon_kit.topics import all_topics, ensure_topics
from binhchon_tools import audit
from binhchon_tools.audit_decisions import recorded
from binhchon_tools.audit_hash import seal
from binhchon_tools.audit_store import rebuild_read_models
from binhchon_tools.audit_topics import read_records, service_topics
from certification.main import CertificationSettings
from certification.main import build as build_certification
from intake.main import IntakeSettings
from intake.main import build as build_intake
from scoring.domain.scoring import evolve, unsealed
from scoring.domain.sealing import DossierKey, Unsealable
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


@dataclass
class Played:
    infra: Infra
    prefix: str
    unique: str
    key: str
    jwks: Path
    national: str
    province: str
    dossiers: dict[str, str]
    # scoring.events as a consumer read it while the honey's scoring was still open (five of its six sheets in)
    before_completion: list[dict[str, Any]] = field(default_factory=list)

    def db(self, service: str) -> str:
        return f"{service}_{self.unique}"

    def settings(self, cls: Any, service: str, **over: Any) -> Any:
        return cls(mongodb_url=self.infra.mongodb, mongodb_database=self.db(service),
                   kafka_bootstrap_servers=self.infra.kafka, kafka_topic_prefix=self.prefix,
                   auth_public_keys_file=self.key, **over)

    def intake(self, **over: Any) -> Any:
        return running(build_intake(self.settings(IntakeSettings, "intake", **over), clock=lambda: NOW),
                       "http://intake")

    def scoring(self, **over: Any) -> Any:
        # scoring's sealing master key injected as a deployment sets it (ADR 0036); the audit never holds it
        over.setdefault("scoring_sealing_keys", SEALING_KEYS)
        return running(build_scoring(self.settings(ScoringSettings, "scoring", **over)), "http://scoring")


SEALING_KEYS = "season-test " + base64.urlsafe_b64encode(bytes(range(100, 132))).rstrip(b"=").decode()
MARKS = {"scores", "total", "totals", "spread", "comment", "reason", "points", "sealing_key"}


def marks_in(value: Any, fields: frozenset[str] | set[str] = MARKS) -> list[str]:
    """Every field anywhere in ``value`` that would carry a mark, a judge's words or a sealing key in clear."""
    if isinstance(value, dict):
        return [k for k, v in value.items() if k in fields and v not in (None, "")] + [
            m for v in value.values() for m in marks_in(v, fields)]
    if isinstance(value, list):
        return [m for v in value for m in marks_in(v, fields)]
    return []


async def topic_now(played: Played, scoring: Any, topic: str) -> list[dict[str, Any]]:
    """``topic`` as a consumer reads it once scoring has published everything it recorded."""
    store = MongoEventStore(scoring.app.state.runtime.mongo[played.db("scoring")], "x", pages=False)

    async def published() -> bool:
        return not await store.unpublished(1)

    await eventually(published, what="scoring's events on their topic")
    events: list[dict[str, Any]] = []
    async for batch in read_records(played.infra.kafka, [f"{played.prefix}{topic}"]):
        events += [json.loads(r.value) for r in batch]
    return events


async def run_audit(*args: str) -> int:
    return await audit.run(audit.build_parser().parse_args(list(args)))


def verify_args(played: Played, prefix: str, *more: str) -> list[str]:
    return ["verify", "--bootstrap-servers", played.infra.kafka, "--topic-prefix", prefix,
            "--jwks", str(played.jwks), "--json", *more]


@pytest.fixture(scope="module")
async def played(infra: Infra, dev_keys: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Played:
    """One province round, played once for the module, then every service stopped with everything published."""
    from binhchon_kit.auth.devtoken import mint

    unique = uuid.uuid4().hex[:10]
    prefix = f"a{unique}."
    await ensure_topics(infra.kafka, all_topics(prefix), partitions=3)
    private = dev_keys[0].read_bytes()

    def auth(subject: str, *roles: str, authorities: tuple[str, ...] = ()) -> dict[str, str]:
        token = mint(private, subject=subject, roles=list(roles), authorities=list(authorities))
        return {"Authorization": f"Bearer {token}"}

    game = Played(infra, prefix, unique, str(dev_keys[1]), tmp_path_factory.mktemp("jwks") / "jwks.json", "", "", {})
    sec = auth("tk-intake", "secretariat")
    judge = {m: auth(m, "council_chair" if m == "cm-1" else "judge") for m in MEMBERS}
    certification_app = build_certification(game.settings(CertificationSettings, "certification"),
                                            clock=lambda: date(2026, 11, 26))
    async with game.intake() as intake, game.scoring() as scoring, \
            running(certification_app, "http://certification") as certification:
        national = (await intake.post("/rounds", headers=sec, json=round_body(
            f"NAT{unique}", TODAY, level="national", rulebook_id="ocop-2023"))).json()
        province = (await intake.post("/rounds", headers=sec, json=round_body(
            f"BG{unique}", TODAY, level="province", rulebook_id="ocop-2023",
            parent_round_id=national["round_id"]))).json()
        game.national, game.province = national["round_id"], province["round_id"]
        members = [{"id": m, "name": f"Thành viên {m}", "organisation": "UBND tỉnh",
                    "role": "chair" if m == "cm-1" else "member"} for m in MEMBERS]

        async def panel() -> Any:
            r = await scoring.post(f"/rounds/{game.province}/panel", headers=sec, json={
                "name": "Hội đồng OCOP tỉnh Bắc Giang", "members": members, "sessions": ["dossier", "samples"],
                "quorum": {"fraction": 0.75, "chair_required": True}, "spread_threshold": 10})
            return r.status_code == 201

        await eventually(panel, what="scoring to hear of the round")
        await upload_documents(intake, auth("htx-1", "applicant"))  # what the dossiers list (ADR 0045)
        for n, product in enumerate(["Mật ong rừng Lục Nam", "Chè Tân Cương", "Bánh đa Kế"]):
            receipt = (await intake.post(f"/rounds/{game.province}/dossiers", json=dossier_body(
                product=product, regno=f"24001234{n}{n}"), headers=auth("htx-1", "applicant"))).json()
            r = await intake.post(f"/dossiers/{receipt['dossier_id']}/accept", headers=sec,
                                  json={"product_group": "thực phẩm", "sample_code": f"TP-{n + 1:02d}"})
            assert r.status_code == 201, r.text
            game.dossiers[product] = receipt["dossier_id"]
        honey, tea, cake = game.dossiers.values()

        async def scorable() -> bool:
            r = await scoring.get(f"/rounds/{game.province}/dossiers", headers=sec)
            return len(r.json()["items"]) == 3

        await eventually(scorable, what="scoring to open the three dossiers")
        full = {c["code"]: c["maximum"] for c in (await scoring.get("/rulebooks/ocop-2023")).json()["sheets"][0][
            "criteria"]}
        assert (await scoring.post(f"/dossiers/{honey}/recusal", json={"reason": "Người thân"},
                                   headers=judge["cm-7"])).status_code == 201
        for k, member in enumerate(MEMBERS[:6], start=1):
            if k == 6:  # the last sheet is what completes the honey's scoring: look at the topic before it
                game.before_completion = await topic_now(game, scoring, "scoring.events")
            r = await scoring.post(f"/dossiers/{honey}/score-sheets", json={"scores": {**full, "C1": 10 - (k - 1)}},
                                   headers=judge[member])
            assert r.status_code == 201, r.text
            if member == "cm-2":
                r = await scoring.post(f"/dossiers/{honey}/score-sheets/amendment", headers=judge["cm-2"],
                                       json={"scores": {**full, "C1": 8}, "reason": "Nhầm điểm cảm quan"})
                assert r.status_code == 201, r.text
        for base, changes, dossier in ((CHE, CHE_CHANGES, tea), (BANH_DA, BANH_DA_CHANGES, cake)):
            for member, change in zip(MEMBERS, changes, strict=True):
                r = await scoring.post(f"/dossiers/{dossier}/score-sheets", json={"scores": {**base, **change}},
                                       headers=judge[member])
                assert r.status_code == 201, r.text
        proposal = (await scoring.post(f"/rounds/{game.province}/proposals", headers=judge["cm-1"])).json()
        r = await scoring.post(f"/proposals/{proposal['proposal_id']}/approval",
                               headers=auth("ubnd", "approver", authorities=("province:24",)),
                               json={"decision": {"number": "1234/QĐ-UBND", "date": "2026-11-25",
                                                  "signer": "Phó Chủ tịch UBND tỉnh",
                                                  "authority": "UBND tỉnh Bắc Giang"}})
        assert r.status_code in (200, 201), r.text

        async def certificate() -> Any:
            r = await certification.get("/certificates", params={"round_id": game.province}, headers=sec)
            return r.json()["items"]

        await eventually(certificate, timeout=60, what="the tea's certificate")

        async def escalated() -> Any:
            r = await intake.get("/dossiers", params={"round_id": game.national, "total": "true"}, headers=sec)
            return r.json()["total"]

        await eventually(escalated, timeout=60, what="the honey in the national round")
        game.jwks.write_text((await certification.get("/.well-known/jwks.json")).text, encoding="utf-8")

        async def all_published() -> bool:
            for service in ("intake", "scoring", "certification"):
                store = MongoEventStore(intake.app.state.runtime.mongo[game.db(service)], "x", pages=False)
                if await store.unpublished(1):
                    return False
            return True

        await eventually(all_published, timeout=60, what="every event on its topic")
    return game


async def copy_topics(played: Played, to_prefix: str,
                      change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    """The played round's events, passed through ``change``, published to a topic set of their own."""
    events: list[dict[str, Any]] = []
    async for batch in read_records(played.infra.kafka, service_topics(played.prefix)):
        events += [json.loads(r.value) for r in batch]
    await ensure_topics(played.infra.kafka, all_topics(to_prefix), partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=played.infra.kafka, **played.infra.kafka_client())
    await producer.start()
    try:
        for event in change(events):
            topic = to_prefix + event["source"].rsplit("/", 1)[-1] + ".events"
            await producer.send_and_wait(topic, json.dumps(event, ensure_ascii=False).encode(),
                                         key=event["subject"].encode())
    finally:
        await producer.stop()


def findings_of(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize("workers", ["0", "2"])  # in one process, and in worker processes (forked on Linux)
async def test_verify_passes_on_a_played_round(played, capsys, workers):
    assert await run_audit(*verify_args(played, played.prefix, "--workers", workers)) == 0
    found = findings_of(capsys)
    assert found["ok"] and found["discrepancies"] == []
    summary = found["summary"]
    assert summary["decisions_recomputed"] == 6  # three scoring.completed, three result.*
    assert summary["certificates"] == 1 and summary["escalations"] == 1
    assert set(summary["per_topic"]) == {"intake.events", "scoring.events", "certification.events"}


async def test_an_altered_copy_of_an_event_is_named(played, capsys):
    tea = played.dossiers["Chè Tân Cương"]
    altered: list[str] = []

    def alter(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for event in events:
            if event["type"] == "score.submitted" and event["subject"] == tea and not altered:
                sealed = event["data"]["sealed"]  # one bit of the sealed marks flipped, the hash left as it was
                sealed["ciphertext"] = ("B" if sealed["ciphertext"][0] == "A" else "A") + sealed["ciphertext"][1:]
                altered.append(event["id"])
        return events

    prefix = f"{played.prefix}altered."
    await copy_topics(played, prefix, alter)
    assert await run_audit(*verify_args(played, prefix, "--workers", "2")) == 1
    found = findings_of(capsys)
    hashes = [d for d in found["discrepancies"] if d["check"] == "hash"]
    assert [d["event_ids"] for d in hashes] == [altered]


async def test_no_mark_is_on_the_topic_before_completion_and_the_audit_opens_them_after(played, capsys):
    """Issue 13: sealed sheets stay sealed on the shared topic. Read while the honey was being scored, every sheet
    on scoring.events carries its marks sealed (no points, total, comment, reason or re-scoring totals anywhere, no
    key); once scored, the completion reveals the key and the audit, holding no key of its own, opens the
    sheets with it (and recomputes every result: test_verify_passes_on_a_played_round)."""
    honey = played.dossiers["Mật ong rừng Lục Nam"]
    before = played.before_completion
    sheets = [e for e in before if e["type"] in ("score.submitted", "score.amended")]
    assert {e["subject"] for e in sheets} == {honey} and len(sheets) == 6  # five sheets and an amendment
    assert not any(e["type"] == "scoring.completed" for e in before)
    # a recusal's reason is no mark (and judge.recused is never published to agencies); an amendment's is sealed
    assert [(e["id"], found) for e in before if (found := marks_in(
        e["data"], MARKS if e["type"].startswith("score") else MARKS - {"reason"}))] == []
    assert all(e["data"]["sealed"]["alg"] == "A256GCM" and e["dataschema"].endswith("/v2.json") for e in sheets)
    assert len({e["data"]["sealed"]["key_digest"] for e in sheets}) == 1  # one key per dossier, committed to

    after = [json.loads(r.value) async for batch in read_records(played.infra.kafka, [
        f"{played.prefix}scoring.events"]) for r in batch]
    completed = {e["subject"]: e for e in after if e["type"] == "scoring.completed"}
    assert set(completed) == set(played.dossiers.values())
    key = DossierKey.from_revealed(completed[honey]["data"]["sealing_key"])
    assert key.digest == sheets[0]["data"]["sealed"]["key_digest"]
    state = None
    for event in (e for e in after if e["subject"] == honey):
        if event["type"] == "scoring.completed":
            break
        state = evolve(state, recorded(event))
    assert state is not None and all(s.scores is None for s in state.sheets)  # sealed as the fold reads them
    opened = unsealed(state, key)
    assert sorted(opened.current_sheets()[m].total or 0 for m in MEMBERS[:6]) == sorted(
        completed[honey]["data"]["totals"].values())
    tea_key = DossierKey.from_revealed(completed[played.dossiers["Chè Tân Cương"]]["data"]["sealing_key"])
    with pytest.raises(Unsealable):  # another dossier's revealed key opens nothing of the honey's
        unsealed(state, tea_key)



def rewritten_from_completion(events: list[dict[str, Any]], subject: str, forged: list[str],
                              alter: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    """``events`` with ``subject``'s stream rewritten from its scoring.completed on (whose data ``alter`` changes):
    every later event resealed, so each hash and link holds. The altered event's id goes to ``forged``."""
    stream = sorted((e for e in events if e["subject"] == subject), key=lambda e: e["streamversion"])
    rewritten: dict[str, dict[str, Any]] = {}
    prev = ""
    for event in stream:
        seen: RecordedEvent = recorded(event)
        if event["type"] == "scoring.completed":
            seen = replace(seen, data=alter(seen.data))
            forged.append(seen.id)
        if forged:
            seen = seal(seen, prev)
            rewritten[seen.id] = json.loads(seen.to_cloudevent().to_bytes())
        prev = seen.hash
    return [rewritten.get(e["id"], e) for e in events]


async def the_one_finding(played: Any, capsys: Any, prefix: str, forge: Any, forged: list[str]) -> str:
    """The topics copied under ``prefix`` through ``forge``, verified: exit 1, every hash and link holding, and one
    scoring discrepancy, about the forged event; its message."""
    await copy_topics(played, prefix, forge)
    assert await run_audit(*verify_args(played, prefix)) == 1
    found = findings_of(capsys)
    assert not [d for d in found["discrepancies"] if d["check"] in ("hash", "chain")]
    scoring = [d for d in found["discrepancies"] if d["check"] == "scoring"]
    assert len(scoring) == 1 and scoring[0]["event_ids"][0] == forged[0]
    return str(scoring[0]["message"])


async def test_a_revealed_key_that_is_not_the_committed_one_is_named(played, capsys):
    """The tea's completion rewritten with a consistent chain to reveal another key: the audit cannot open the
    sheets with it and names the completion."""
    tea = played.dossiers["Chè Tân Cương"]
    forged: list[str] = []

    def forge(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return rewritten_from_completion(events, tea, forged, lambda data: {
            **data, "sealing_key": DossierKey(bytes(32)).revealed()})

    message = await the_one_finding(played, capsys, f"{played.prefix}rekeyed.", forge, forged)
    assert "does not open its sealed marks" in message


async def test_a_result_whose_stars_disagree_with_its_sheets_is_named(played, capsys):
    """The rice cake's stream rewritten from its scoring.completed on with a consistent chain: every hash and
    link holds, and the recomputation from the sheets names the forged result."""
    cake = played.dossiers["Bánh đa Kế"]
    forged: list[str] = []

    def forge(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return rewritten_from_completion(events, cake, forged, lambda data: {
            **data, "stars": 4, "rating_label": "4 sao", "recognised_at_level": True})

    message = await the_one_finding(played, capsys, f"{played.prefix}forged.", forge, forged)
    assert "stars: recorded 4, recomputed 3" in message


async def test_the_timeline_spans_both_levels_in_causal_order(played, capsys):
    honey = played.dossiers["Mật ong rừng Lục Nam"]
    assert await run_audit("timeline", honey, "--bootstrap-servers", played.infra.kafka,
                           "--topic-prefix", played.prefix, "--json") == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    types = [e["type"] for e in events]
    approved = types.index("result.approved")
    escalation = next(i for i, e in enumerate(events) if e["type"] == "dossier.received"
                      and (e["data"].get("escalated_from") or {}).get("dossier_id") == honey)
    assert types[0] == "dossier.received" and events[0]["data"]["dossier_id"] == honey
    assert approved < escalation
    assert events[escalation]["data"]["round_id"] == played.national
    ids = [e["id"] for e in events]
    for n, event in enumerate(events):  # nothing before what caused it
        assert event["causationid"] not in ids[n:]


async def test_what_if_prints_what_another_rulebook_version_would_change(played, capsys):
    assert await run_audit("what-if", played.province, "--rulebook", "ocop-2025@2", "--bootstrap-servers",
                           played.infra.kafka, "--topic-prefix", played.prefix, "--json") == 0
    rows = {r["product"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert set(rows) == {"Mật ong rừng Lục Nam", "Chè Tân Cương", "Bánh đa Kế"}
    cake = rows["Bánh đa Kế"]  # ocop-2025 v2 recognises 3 stars at the province level, ocop-2023 does not
    assert cake["changed"] and cake["before"]["recognised_at_level"] is False
    assert cake["after"]["recognised_at_level"] is True and cake["after"]["stars"] == 3
    assert rows["Chè Tân Cương"]["changed"] is False


async def test_rebuilt_read_models_answer_the_same(played, mongo, auth):
    sec = auth("tk-intake", "secretariat")
    honey = played.dossiers["Mật ong rừng Lục Nam"]
    paths = {"intake": [f"/dossiers?round_id={played.province}", f"/dossiers?round_id={played.national}",
                        f"/dossiers/{honey}", f"/rounds/{played.province}"],
             "scoring": [f"/rounds/{played.province}/dossiers", f"/dossiers/{honey}"]}
    quiet = {"relay_enabled": False, "consumers_enabled": False}
    async with played.intake(**quiet) as intake, played.scoring(**quiet) as scoring:
        clients = {"intake": intake, "scoring": scoring}

        async def answers() -> dict[str, Any]:
            out = {}
            for service, urls in paths.items():
                for url in urls:
                    r = await clients[service].get(url, headers=sec)
                    out[f"{service} {url}"] = (r.status_code, r.json())
            return out

        before = await answers()
        assert all(status == 200 for status, _ in before.values()), before
        await mongo[played.db("intake")]["dossiers"].drop()
        gone = await intake.get("/dossiers", params={"round_id": played.province}, headers=sec)
        assert gone.json()["items"] == []  # the list reads the read model: really gone
        counts = await rebuild_read_models("intake", played.infra.mongodb, played.db("intake"))
        assert counts == {"rounds": 2, "dossiers": 4, "bindings": 3, "samples": 0}  # no sample custody in this play
        assert await run_audit("--mongodb-url", played.infra.mongodb, "rebuild", "scoring",
                               "--database", played.db("scoring")) == 0
        # a service with a read model no stream feeds (certification's ceremonies, in this season)
        assert await run_audit("--mongodb-url", played.infra.mongodb, "rebuild", "certification",
                               "--database", played.db("certification")) == 0
        assert await answers() == before


async def test_compare_finds_missing_extra_and_altered_events(played, mongo, capsys):
    args = ["--mongodb-url", played.infra.mongodb, "compare", "--bootstrap-servers", played.infra.kafka,
            "--topic-prefix", played.prefix, "--json"] + [
        f"--database={s}={played.db(s)}" for s in ("intake", "scoring", "certification", "notify")]
    assert await run_audit(*args) == 0, capsys.readouterr().out
    capsys.readouterr()
    tea = played.dossiers["Chè Tân Cương"]
    intake_events = mongo[played.db("intake")]["events"]
    scoring_events = mongo[played.db("scoring")]["events"]
    altered = await intake_events.find_one({"subject": tea, "type": "dossier.accepted"})
    await alter_data(intake_events, altered["_id"], "sample_code", "TP-99")
    dropped = await scoring_events.find_one({"subject": tea, "type": "judge.recused"}) or await \
        scoring_events.find_one({"subject": tea, "type": "score.submitted"})
    await scoring_events.delete_one({"_id": dropped["_id"]})
    forged = {**altered, "_id": f"{altered['stream']}/0000000099", "version": 99, "event_id": "forged-event"}
    forged.pop("unpublished", None)
    await intake_events.insert_one(forged)

    assert await run_audit(*args) == 1
    found = {(d["check"], d["subject"]): d for d in findings_of(capsys)["discrepancies"]}
    assert set(found) == {("altered", altered["_id"]), ("extra", dropped["_id"]), ("missing", forged["_id"])}
    assert "data" in found[("altered", altered["_id"])]["message"]
    assert found[("extra", dropped["_id"])]["event_ids"] == [dropped["event_id"]]
    assert found[("missing", forged["_id"])]["event_ids"] == ["forged-event"]
