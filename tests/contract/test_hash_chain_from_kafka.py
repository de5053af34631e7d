"""The hash chain is part of the contract: a verifier that knows only the published contract
(``independent_verifier.py``: aiokafka, rfc8785, hashlib) reads a round's events off the real broker, recomputes
every hash and every link, and finds a tampered copy. The services run here only to play the round."""

from __future__ import annotations

import ast
import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.samples import dossier_body, round_body
from intake.main import IntakeSettings
from intake.main import build as build_intake
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

VERIFIER = Path(__file__).with_name("independent_verifier.py")


def load_verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("independent_verifier", VERIFIER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_verifier_imports_nothing_of_binhchon() -> None:
    tree = ast.parse(VERIFIER.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported == {"__future__", "argparse", "asyncio", "collections", "hashlib", "json", "ssl", "sys", "typing",
                        "aiokafka", "rfc8785"}


@pytest.mark.integration
async def test_an_outsider_recomputes_every_hash_of_a_round_from_the_topics(
        infra, unique, topic_prefix, dev_keys, auth):
    verifier = load_verifier()
    common = dict(mongodb_url=infra.mongodb, kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix,
                  auth_public_keys_file=str(dev_keys[1]))
    sec, producer = auth("sec", "secretariat"), auth("htx", "applicant")
    topics = [f"{topic_prefix}intake.events", f"{topic_prefix}scoring.events"]
    async with running(build_intake(IntakeSettings(mongodb_database=f"intake_{unique}", **common)), "http://i") as i, \
            running(build_scoring(ScoringSettings(mongodb_database=f"scoring_{unique}", **common)), "http://s") as s:
        rnd = (await i.post("/rounds", json=round_body(f"HC{unique}", rulebook_id="ocop-2023"), headers=sec)).json()
        panel = {"name": "Hội đồng", "members": [{"id": "cm-1", "name": "Lê Thị Hoa", "organisation": "Sở NN&PTNT",
                                                  "role": "chair"}]}

        async def panel_formed() -> bool | None:  # once scoring has heard of the round from intake's topic
            r = await s.post(f"/rounds/{rnd['round_id']}/panel", headers=sec, json=panel)
            return True if r.status_code == 201 else None

        await eventually(panel_formed, what="scoring to form the round's panel")
        await upload_documents(i, producer)
        kept, withdrawn = [(await i.post(f"/rounds/{rnd['round_id']}/dossiers", headers=producer, json=dossier_body(
            product=product, regno=regno))).json()["dossier_id"]
            for product, regno in (("Mật ong rừng Lục Nam", "2400123456"), ("Vải thiều Lục Ngạn", "2400654321"))]
        for n, dossier in enumerate((kept, withdrawn), start=1):  # a selection code is one dossier's in a round
            r = await i.post(f"/dossiers/{dossier}/accept", headers=sec,
                             json={"product_group": "thực phẩm", "sample_code": f"TP-{n:02d}"})
            assert r.status_code in (200, 201), r.text

        async def scoring_status(dossier: str, wanted: str) -> bool | None:
            r = await s.get(f"/dossiers/{dossier}", headers=sec)
            return True if r.status_code == 200 and r.json()["status"] == wanted else None

        await eventually(lambda: scoring_status(withdrawn, "open"), what="scoring to open the dossier")
        r = await i.post(f"/dossiers/{withdrawn}/withdraw", json={"reason": "Chưa đủ sản lượng"}, headers=producer)
        assert r.status_code == 201, r.text
        await eventually(lambda: scoring_status(withdrawn, "cancelled"), what="scoring to cancel it")

        recorded = {e.id for app in (i.app, s.app) async for e in app.state.runtime.store.read_all()}

        async def every_event_on_the_topics() -> list[dict] | None:
            values = await verifier.read_topics(infra.kafka, topics, **infra.kafka_client("auditor"))
            return values if {v["id"] for v in values} == recorded else None

        # the relays publish what the stores recorded; the topics then hold all of it (and nothing else)
        events = await eventually(every_event_on_the_topics, what="every recorded event on the topics")

    assert {e["type"] for e in events} >= {"round.opened", "panel.formed", "dossier.received", "dossier.accepted",
                                           "scoring.opened", "dossier.withdrawn", "scoring.cancelled"}
    assert {e["hashalg"] for e in events} == {"cloudevent-jcs-sha256"}
    assert verifier.verify(events) == []
    streams = {(e["source"], e["streamid"]) for e in events}
    assert len(streams) >= 4 and max(e["streamversion"] for e in events) >= 3  # chains, not lone events

    # an event picking up an extension on its way (traceparent) still verifies: it is not hashed
    traced = copy.deepcopy(events)
    traced[0]["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert verifier.verify(traced) == []

    # tampered copies: each is found and named by its event
    # the acceptance of the dossier later withdrawn: an event in the middle of its stream
    target = next(e for e in events if e["type"] == "dossier.accepted" and e["subject"] == withdrawn)
    assert any(e["streamid"] == target["streamid"] and e["streamversion"] > target["streamversion"] for e in events)
    where = f"event {target['id']}"

    def tampered(change) -> list[str]:
        forged = copy.deepcopy(events)
        change(next(e for e in forged if e["id"] == target["id"]), forged)
        return verifier.verify(forged)

    def alter_data(event, _):
        event["data"]["sample_code"] = "TP-GIẢ"

    def alter_actor(event, _):
        event["actorid"] = "someone-else"

    def rehash(event, _):  # the content altered and its own hash recomputed: the next link breaks
        event["data"]["sample_code"] = "TP-GIẢ"
        event["hash"] = verifier.event_hash(event)

    def drop(event, forged):
        forged.remove(event)

    def legacy(event, _):  # the scheme marker removed: the legacy formula does not give the hash
        del event["hashalg"]

    assert [p for p in tampered(alter_data) if where in p] == [
        f"/binhchon/intake {target['streamid']} v{target['streamversion']} ({where}): hash does not match its content"]
    assert any(where in p and "hash does not match" in p for p in tampered(alter_actor))
    assert any(where in p and "hash does not match" in p for p in tampered(legacy))
    relinked = tampered(rehash)
    assert not any(where in p for p in relinked) and any("prevhash is not the previous" in p for p in relinked)
    dropped = tampered(drop)
    assert dropped and all(target["streamid"] in p for p in dropped)
