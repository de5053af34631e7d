"""A service's database lost entirely and written back from its Kafka topic (issue 14, ADR 0047).

Scoring's database is dropped twice: once in the middle of the season, while the flow goes on (its calls to scoring
are refused meanwhile and asked again), and once when all is done. Each time scoring is killed, the database
dropped, ``binhchon-scoring restore-from-topic`` run as ops would run it, and scoring started again. Then the
checker's invariants hold (every stored event on its topic exactly once, one certificate per recognised result,
each mail exactly once), ``binhchon-audit compare`` finds nothing, and after the second loss every read of scoring
answers as it did before.

The loss strikes when everything scoring acknowledged is on its topic: scoring is frozen (SIGSTOP) until its
database holds no unpublished event, then killed. What was acknowledged but not yet published when a disk dies is
what no restore from the topic can give back (ADR 0047): how many there were is the run's ``unpublished_at_loss``
(zero here by construction), and the README says so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from .checker import proposals_on_topic, settled
from .flow import Flow
from .system import BIN, SERVICES, System

pytestmark = pytest.mark.integration
HERE = Path(__file__).parent
LOST = "scoring"


def unpublished(system: System, service: str) -> int:
    client: MongoClient[dict[str, Any]] = MongoClient(system.mongodb)
    try:
        return client[system.databases[service]]["events"].count_documents({"unpublished": {"$gte": ""}})
    finally:
        client.close()


def lose_and_restore(system: System, service: str) -> dict[str, Any]:
    """Kill ``service`` at a moment its outbox is empty, drop its database, restore it from its topic with the
    service's own command and settings, start it again. What happened, with timings."""
    process = system.processes[(service, 0)]
    deadline = time.monotonic() + 120
    while True:
        os.kill(process.pid, signal.SIGSTOP)  # frozen: nothing more is appended while the outbox is looked at
        if unpublished(system, service) == 0 or time.monotonic() > deadline:
            break
        os.kill(process.pid, signal.SIGCONT)
        time.sleep(0.05)
    lost_at = time.monotonic()
    system.kill(service)
    time.sleep(0.5)  # an insert sent before the freeze and applied after it would show now
    left = unpublished(system, service)
    client: MongoClient[dict[str, Any]] = MongoClient(system.mongodb)
    try:
        client.drop_database(system.databases[service])
    finally:
        client.close()
    started = time.monotonic()
    command = subprocess.run([str(BIN / f"binhchon-{service}"), "restore-from-topic"], env=system.env(service, 0),
                             capture_output=True, timeout=600, check=False)
    assert command.returncode == 0, command.stderr.decode()[-3000:]
    restored = json.loads(command.stdout.decode().strip().splitlines()[-1])
    restore_s = time.monotonic() - started
    again = subprocess.run([str(BIN / f"binhchon-{service}"), "restore-from-topic"], env=system.env(service, 0),
                           capture_output=True, timeout=600, check=False)
    assert again.returncode == 3, f"a restore into the restored database was not refused: {again.stderr!r}"
    system.start_service(service, 0, wait=False)
    system.wait_ready(service, 0)
    return {"unpublished_at_loss": left, "restore_s": round(restore_s, 1),
            "loss_to_ready_s": round(time.monotonic() - lost_at, 1),
            **{k: restored[k] for k in ("events", "republished", "leaves", "checkpoints_matched", "groups_rewound",
                                        "read_models", "seconds")}}


def scoring_reads(system: System, flow: Flow) -> dict[str, tuple[int, str]]:
    """Every read of scoring the season made something to read: rounds' panels and dossiers, each dossier and its
    sheets, every proposal, the log's checkpoints."""
    sec, auditor = flow.sec, flow.auth("kt-faults", "auditor")
    paths: list[tuple[str, dict[str, str]]] = [("/log/checkpoints", auditor), ("/log/jwks.json", {})]
    for round_id in flow.rounds.values():
        paths += [(f"/rounds/{round_id}/panel", sec), (f"/rounds/{round_id}/dossiers?limit=100", sec)]
        for proposal in proposals_on_topic(system, round_id):
            paths += [(f"/proposals/{proposal}.json", sec), (f"/proposals/{proposal}.csv", sec)]
    for d in flow.dossiers:
        for dossier in filter(None, (d.id, d.escalated)):
            paths += [(f"/dossiers/{dossier}", sec), (f"/dossiers/{dossier}/score-sheets", sec)]
    with httpx.Client(base_url=system.url(LOST), timeout=60) as client:
        answers = {}
        for path, headers in paths:
            r = client.get(path, headers=headers)
            answers[path] = (r.status_code, r.text)
        return answers


def audit_compare(system: System) -> subprocess.CompletedProcess[bytes]:
    """``binhchon-audit compare`` of every service's store with the topics, as an auditor runs it."""
    env = {**system.env(LOST, 0), "MONGODB_URL": system.mongodb}
    return subprocess.run([str(BIN / "binhchon-audit"), "compare", "--bootstrap-servers", system.bootstrap,
                           "--topic-prefix", system.prefix,
                           *[a for s in SERVICES for a in ("--database", f"{s}={system.databases[s]}")]],
                          env=env, capture_output=True, timeout=600, check=False)


@pytest.mark.timeout(1500)
def test_a_services_database_lost_and_restored_from_its_topic(fault_run):
    system, flow, run = fault_run(f"{LOST}'s database lost, restored from its topic (x2)")
    from .test_faults import during  # the suite's way of striking while the flow plays

    losses: list[dict[str, Any]] = []
    errors = during(flow, lambda: losses.append(lose_and_restore(system, LOST)), 0.5)
    assert not errors, errors
    evidence, problems = settled(system, seconds=300)
    run.extra["losses"] = losses
    assert not problems, problems
    mails = len(evidence.mails)

    before = scoring_reads(system, flow)
    losses.append(lose_and_restore(system, LOST))
    after = scoring_reads(system, flow)
    # a service signs a checkpoint when it starts over a log that grew: the restored one keeps every checkpoint it
    # had, first and unchanged, and may add one (over the restored leaves: it would refuse a log that differs)
    signed, resigned = (json.loads(answers["/log/checkpoints"][1]) for answers in (before, after))
    assert resigned[:len(signed)] == signed and len(resigned) - len(signed) <= 1, (signed, resigned)
    changed = sorted(p for p in before if p != "/log/checkpoints" and before[p] != after.get(p))
    assert not changed, f"reads that answer otherwise after the restore: {changed[:5]}"
    assert sum(status == 200 for status, _ in before.values()) >= len(flow.dossiers), "the reads read nothing"

    evidence, problems = settled(system, seconds=300)
    run.saw(flow, evidence, problems)
    run.extra.update(losses=losses, reads_compared=len(before))
    assert not problems, problems
    assert len(evidence.mails) == mails, "mails sent again after the restore"
    compared = audit_compare(system)
    run.extra["audit_compare"] = compared.returncode
    assert compared.returncode == 0, (compared.stdout.decode()[-3000:], compared.stderr.decode()[-2000:])
    assert all(loss["unpublished_at_loss"] == 0 for loss in losses), losses
