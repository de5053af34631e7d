"""Awards matched with results (pure: no server, ADR 0050): one award per recognised result of a round with a
prize schedule, for the schedule's amount; a forged extra award, one for a result not recognised, and a missing
one are each named with their event ids."""

from __future__ import annotations

import json
from typing import Any

from binhchon_tools.audit_awards import check_awards
from binhchon_tools.audit_decisions import Log
from binhchon_tools.audit_findings import Findings

ROUND = "cnnttb-mien-nam-2024"


def event(kind: str, stream: str, data: dict[str, Any], version: int = 1, id_: str | None = None) -> bytes:
    return json.dumps({"id": id_ or f"{kind}-{stream}", "type": kind, "streamid": stream, "streamversion": version,
                       "data": data}, ensure_ascii=False).encode()


def result(dossier: str, recognised: bool) -> bytes:
    return event("result.approved", f"scoring-{dossier}", {"dossier_id": dossier, "round_id": ROUND,
                                                           "rating": {"recognised": recognised, "stars": None}}, 9)


def award(dossier: str, stream: str, amount: int = 5_000_000) -> bytes:
    return event("award.granted", stream, {"award_id": stream, "round_id": ROUND, "dossier_id": dossier,
                                           "result_event_id": f"result.approved-scoring-{dossier}",
                                           "amount": amount})


def the_round(*extra: bytes) -> list[bytes]:
    return [event("prize_schedule.set", "schedule-1", {"round_id": ROUND, "prizes": [{"amount": 5_000_000}],
                                                        "fee_per_session": 1_500_000}),
            result("kg-001", True), result("ct-014", True), result("dt-021", False),
            award("kg-001", "award-a"), award("ct-014", "award-b"), *extra]


def test_one_award_per_recognised_result_is_no_discrepancy():
    findings = Findings()
    check_awards(Log(the_round()), findings)
    assert findings.ok, findings.discrepancies
    assert findings.counts["awards"] == 2


def test_a_forged_extra_award_is_named_with_its_event_ids():
    findings = Findings()
    check_awards(Log(the_round(award("kg-001", "award-forged", amount=50_000_000))), findings)
    [amount, twice] = findings.discrepancies
    assert amount.event_ids == ("award.granted-award-forged", "result.approved-scoring-kg-001",
                                "prize_schedule.set-schedule-1")
    assert "50000000" in amount.message
    assert twice.message == "2 awards for a recognised result (one expected)"
    assert twice.event_ids == ("result.approved-scoring-kg-001", "award.granted-award-a",
                               "award.granted-award-forged")


def test_an_award_for_a_result_not_recognised_and_a_missing_one_are_named():
    raws = [r for r in the_round(award("dt-021", "award-c")) if b'"award-b"' not in r]
    findings = Findings()
    check_awards(Log(raws), findings)
    assert {(d.subject, d.message, d.event_ids) for d in findings.discrepancies} == {
        ("dt-021", "an award for no recognised approved result", ("award.granted-award-c",
                                                                   "result.approved-scoring-dt-021")),
        ("ct-014", "0 awards for a recognised result (one expected)", ("result.approved-scoring-ct-014",))}
