"""Forged logs through every check of the verify, in one process: whatever a writer to the topics publishes
(events hashed and linked as any, of every kept type, with data of odd shapes: null, lists, strings, numbers,
ids that are objects, members that are not objects, ratings that are not booleans), the checks run to their
end and name what they cannot read. Found this way: a ``round.opened`` without ``round_id`` and a payment whose
id is a list each ended the verify with an exception (ADR 0059, 2026-12-01 evening)."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest

from binhchon_kit.topic_history import Record
from binhchon_tools.audit_awards import check_awards
from binhchon_tools.audit_chain import ChainCheck
from binhchon_tools.audit_checkpoints import check_checkpoints
from binhchon_tools.audit_decisions import (
    KEPT_TYPES,
    Log,
    check_certificates,
    check_decisions,
    check_escalations,
    worker_rulebooks,
)
from binhchon_tools.audit_signatures import check_signatures
from tools.tests.test_audit_core import forged_log  # the forgeries the compiled chain check is held to

ODD_DATA: list[Any] = [
    None, [], "x", 1, {"round_id": 5}, {"totals": []},
    {"dossier_id": None, "round_id": "r", "rating": {"recognised": "yes"}},
    {"dossier_id": "d", "round_id": "r", "rating": {"recognised": True}, "goes_up_a_level": True},
    {"escalated_from": {"result_event_id": 3}},
    {"escalated_from": {"result_event_id": "x", "dossier_id": "d", "round_id": "r"}, "dossier_id": "d2",
     "round_id": "p"},
    {"result_event_id": 1, "round_id": "r", "dossier_id": "d"}, {"award_id": [], "fee_id": {}},
    {"round_id": "r", "prizes": None, "fee_per_session": "x"}, {"members": [1], "round_id": "r", "sessions": "s"},
    {"round_id": "r", "members": [{"id": "a"}], "sessions": []},
]


def reshaped(rng: random.Random, records: list[Record]) -> list[Record]:
    """Some events given another kept type, some data another shape (their hashes then fail, which the Log does
    not look at)."""
    out = []
    for record in records:
        try:
            event = json.loads(record.value)
        except ValueError:
            out.append(record)
            continue
        if isinstance(event, dict):
            if rng.random() < 0.4:
                event["type"] = rng.choice(sorted(KEPT_TYPES))
            if rng.random() < 0.3:
                event["data"] = rng.choice(ODD_DATA)
        out.append(Record(record.topic, record.partition, record.offset, json.dumps(event).encode(),
                          record.timestamp))
    return out


@pytest.mark.parametrize("first", range(0, 1000, 250))
def test_every_check_runs_to_its_end_on_forged_logs(first: int) -> None:
    rulebooks = worker_rulebooks()
    named = checked = 0
    for seed in range(first, first + 250):
        rng = random.Random(seed)
        records = reshaped(rng, [r for _ in range(3) for r in forged_log(rng)])
        chain = ChainCheck("audit.", KEPT_TYPES)
        chain.feed(records)
        findings = asyncio.run(chain.finish())
        log = Log(chain.kept)
        check_decisions(log, findings, rulebooks)
        check_certificates(log, findings, None)
        check_awards(log, findings)
        check_escalations(log, findings)
        check_checkpoints(chain.log_order, chain.checkpoints, findings, None)
        check_signatures(chain.signed, findings, None)
        named += len(log.malformed)  # the verify names each (audit_verify)
        checked += findings.counts["decisions_recomputed"] + len(findings.discrepancies)
    assert named > 0 and checked > 0
