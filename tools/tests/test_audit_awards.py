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


# ---- fees and payments -------------------------------------------------------------------------------------

PANEL = event("panel.formed", "panel-1", {"panel_id": "panel-1", "round_id": ROUND, "sessions": ["dossier", "samples"],
                                          "members": [{"id": "gk-1", "role": "chair"}, {"id": "gk-2", "role": "member"},
                                                      {"id": "tk-1", "role": "secretary"}]})


def completed(dossier: str, *members: str) -> bytes:
    return event("scoring.completed", f"scoring-{dossier}", {"dossier_id": dossier, "round_id": ROUND,
                                                             "totals": {m: 80.0 for m in members}}, 8)


def fee(member: str, session: str, stream: str | None = None, amount: int = 1_500_000) -> bytes:
    stream = stream or f"fee-{member}-{session}"
    return event("fee.owed", stream, {"fee_id": stream, "round_id": ROUND, "panel_id": "panel-1",
                                      "member_id": member, "session": session, "amount": amount})


def paid(kind: str, line: str, amount: int, stream: str | None = None, version: int = 2, **more: Any) -> bytes:
    return event(f"{kind}.paid", stream or line, {f"{kind}_id": line, "round_id": ROUND, "amount": amount,
                                                  "payment_reference": "UNC-01", "paid_on": "2026-12-01", **more},
                 version, id_=f"{kind}.paid-{stream or line}-{version}")


def the_fees(*extra: bytes) -> list[bytes]:
    return [*the_round(), PANEL, completed("kg-001", "gk-1", "gk-2"), completed("ct-014", "gk-1"),
            *(fee(m, s) for m in ("gk-1", "gk-2") for s in ("dossier", "samples")), *extra]


def test_fees_for_each_counted_judge_per_session_paid_once_are_no_discrepancy():
    findings = Findings()
    check_awards(Log(the_fees(paid("award", "award-a", 5_000_000),
                              paid("fee", "fee-gk-1-dossier", 1_500_000, member_id="gk-1", session="dossier"))),
                 findings)
    assert findings.ok, findings.discrepancies
    assert (findings.counts["fees"], findings.counts["payments"]) == (4, 2)


def test_a_forged_fee_for_a_judge_who_counted_nowhere_a_session_not_sat_and_a_wrong_amount_are_named():
    forged = [fee("tk-1", "dossier"), fee("gk-9", "dossier"), fee("gk-1", "field_visit"),
              fee("gk-2", "samples", stream="fee-gk-2-samples-again", amount=9_000_000)]
    raws = [r for r in the_fees(*forged) if b'"fee-gk-2-dossier"' not in r]
    findings = Findings()
    check_awards(Log(raws), findings)
    got = {(d.subject, d.message) for d in findings.discrepancies}
    assert got == {
        ("tk-1", f"a fee for tk-1, whose sheet counted in no completed dossier of round {ROUND}"),
        ("gk-9", f"a fee for gk-9, whose sheet counted in no completed dossier of round {ROUND}"),
        ("gk-1", f"a fee for session 'field_visit', which the panel of round {ROUND} does not sit"),
        ("gk-2", "a fee of 9000000 đồng; the schedule gives 1500000"),
        ("gk-2", f"2 fees for session 'samples' of round {ROUND} (one expected)"),
        ("gk-2", f"0 fees for session 'dossier' of round {ROUND} (one expected)"),
    }, got
    twice = next(d for d in findings.discrepancies if d.message.startswith("2 fees"))
    assert twice.event_ids[-2:] == ("fee.owed-fee-gk-2-samples", "fee.owed-fee-gk-2-samples-again")


def test_payments_of_nothing_owed_of_a_wrong_amount_and_twice_are_named():
    forged = [paid("award", "award-a", 5_000_000), paid("award", "award-a", 5_000_000, stream="award-a-copy"),
              paid("award", "award-b", 50_000_000), paid("award", "award-nowhere", 5_000_000),
              paid("fee", "fee-gk-1-dossier", 1_500_000, member_id="gk-2", session="dossier")]
    findings = Findings()
    check_awards(Log(the_fees(*forged)), findings)
    got = {(d.subject, d.message, d.event_ids) for d in findings.discrepancies}
    assert got == {
        ("award-a", "award paid 2 times (once expected)",
         ("award.granted-award-a", "award.paid-award-a-2", "award.paid-award-a-copy-2")),
        ("award-b", "pays what is not owed: amount 50000000 (owed 5000000)",
         ("award.paid-award-b-2", "award.granted-award-b")),
        ("award-nowhere", "a payment of no award owed", ("award.paid-award-nowhere-2",)),
        ("fee-gk-1-dossier", "pays what is not owed: member_id 'gk-2' (owed 'gk-1')",
         ("fee.paid-fee-gk-1-dossier-2", "fee.owed-fee-gk-1-dossier")),
    }, got


def test_a_payment_or_line_whose_id_is_a_list_or_an_object_is_named_not_a_crash():
    """Forged ids of another type than a string (found by forged logs fed through the checks: they ended the
    verify with 'unhashable type')."""
    forged = [paid("award", ["award-a"], 5_000_000, stream="award-list"),  # type: ignore[arg-type]
              paid("fee", {"id": "fee-gk-1-dossier"}, 1_500_000, stream="fee-object"),  # type: ignore[arg-type]
              event("fee.owed", "fee-forged", {"fee_id": ["x"], "round_id": ROUND, "member_id": "gk-1",
                                               "session": "dossier", "amount": 1_500_000})]
    findings = Findings()
    check_awards(Log(the_fees(*forged)), findings)
    got = {(d.subject, d.message) for d in findings.discrepancies}
    assert ("['award-a']", "a payment of no award owed") in got
    assert ("{'id': 'fee-gk-1-dossier'}", "a payment of no fee owed") in got
