"""Prizes matched with results (ADR 0050): in a round whose prize schedule is set, every recognised
``result.approved`` has exactly one ``award.granted``, for the amount the schedule gives its rating; no other
result has any, and a round without a schedule has none. Every ``fee.owed`` is one of a judge whose sheet counted
in a completed dossier of the round (``scoring.completed.totals``), for a session of the round's panel, at the
schedule's fee, once; every ``award.paid`` and ``fee.paid`` pays an owed line of its round once, for its amount.
A discrepancy names the events concerned."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from binhchon_tools.audit_decisions import Log
from binhchon_tools.audit_findings import Findings
from certification.domain.ledger import SCORING_ROLES, prize_for

AWARD_TYPES = frozenset({"award.granted", "prize_schedule.set"})


def check_awards(log: Log, findings: Findings) -> None:
    schedules = {e["data"]["round_id"]: e for e in log.of_type["prize_schedule.set"]}
    by_result: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for award in log.of_type["award.granted"]:
        data = award["data"]
        result = log.by_id.get(data.get("result_event_id", ""))
        schedule = schedules.get(data.get("round_id", ""))
        if result is None or result["type"] != "result.approved" or not result["data"]["rating"]["recognised"]:
            findings.add("award", data.get("dossier_id", "?"), "an award for no recognised approved result",
                         award["id"], data.get("result_event_id", ""))
            continue
        by_result[result["id"]].append(award)
        if schedule is None:
            findings.add("award", data["dossier_id"], "an award in a round without a prize schedule", award["id"])
            continue
        owed = prize_for(schedule["data"]["prizes"], result["data"]["rating"].get("stars"))
        if data.get("amount") != owed or data.get("round_id") != result["data"]["round_id"]:
            findings.add("award", data["dossier_id"], f"awards {data.get('amount')} đồng in round "
                         f"{data.get('round_id')}; its schedule gives {owed} in {result['data']['round_id']}",
                         award["id"], result["id"], schedule["id"])
    for result in log.of_type["result.approved"]:
        if not result["data"]["rating"]["recognised"] or result["data"]["round_id"] not in schedules:
            continue
        awards = by_result.get(result["id"], [])
        if len(awards) != 1:
            findings.add("award", result["data"]["dossier_id"],
                         f"{len(awards)} awards for a recognised result (one expected)",
                         result["id"], *(a["id"] for a in awards))
    findings.counts["awards"] = len(log.of_type["award.granted"])
    check_fees(log, findings, schedules)
    check_payments(log, findings)


def check_fees(log: Log, findings: Findings, schedules: dict[str, dict[str, Any]]) -> None:
    """One fee per session of the panel for each judge whose sheet counted in a completed dossier of the round
    (the secretary scores nothing; a substitute is named by scoring's id), at the schedule's fee."""
    counted: dict[str, dict[str, str]] = defaultdict(dict)  # round → member → a completion that counted them
    for completed in log.of_type["scoring.completed"]:
        for member_id in completed["data"].get("totals", {}):
            counted[completed["data"].get("round_id", "")].setdefault(member_id, completed["id"])
    owed: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for fee in log.of_type["fee.owed"]:
        data = fee["data"]
        round_id, member_id, session = data.get("round_id", ""), data.get("member_id", ""), data.get("session", "")
        owed[(round_id, member_id, session)].append(fee)
        schedule, panel = schedules.get(round_id), log.panels.get(round_id)
        members = {m["id"]: m for m in panel["data"]["members"]} if panel else {}
        role = members.get(member_id, {}).get("role", "member")
        if schedule is None:
            findings.add("fee", member_id, f"a fee in round {round_id}, which has no prize schedule", fee["id"])
        elif panel is None or session not in panel["data"]["sessions"]:
            findings.add("fee", member_id, f"a fee for session {session!r}, which the panel of round {round_id} "
                         "does not sit", fee["id"], *([panel["id"]] if panel else []))
        elif member_id not in counted[round_id] or role not in SCORING_ROLES:
            findings.add("fee", member_id, f"a fee for {member_id}, whose sheet counted in no completed dossier "
                         f"of round {round_id}", fee["id"], panel["id"])
        elif data.get("amount") != schedule["data"]["fee_per_session"]:
            findings.add("fee", member_id, f"a fee of {data.get('amount')} đồng; the schedule gives "
                         f"{schedule['data']['fee_per_session']}", fee["id"], schedule["id"])
    for round_id in schedules:
        panel = log.panels.get(round_id)
        if panel is None:
            continue
        roles = {m["id"]: m["role"] for m in panel["data"]["members"]}
        for member_id, completed_id in counted[round_id].items():
            if roles.get(member_id, "member") not in SCORING_ROLES:
                continue
            for session in panel["data"]["sessions"]:
                fees = owed.get((round_id, member_id, session), [])
                if len(fees) != 1:
                    findings.add("fee", member_id, f"{len(fees)} fees for session {session!r} of round {round_id} "
                                 "(one expected)", completed_id, panel["id"], *(f["id"] for f in fees))
    findings.counts["fees"] = len(log.of_type["fee.owed"])


def line_id(value: Any) -> Any:
    """An award's or fee's id as payments name it; a forged one that is a list or an object, by its repr (it then
    matches only the same forgery, and cannot end the check as an unhashable key)."""
    return repr(value) if isinstance(value, (list, dict)) else value


def check_payments(log: Log, findings: Findings) -> None:
    """Each payment pays a line owed in its round, for the line's amount, and each line is paid at most once."""
    lines = {**{("award", line_id(e["data"].get("award_id"))): e for e in log.of_type["award.granted"]},
             **{("fee", line_id(e["data"].get("fee_id"))): e for e in log.of_type["fee.owed"]}}
    paid: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for kind, paid_type in (("award", "award.paid"), ("fee", "fee.paid")):
        for payment in log.of_type[paid_type]:
            data = payment["data"]
            key = (kind, line_id(data.get(f"{kind}_id")))
            line = lines.get(key)
            if line is None:
                findings.add("payment", str(key[1]), f"a payment of no {kind} owed", payment["id"])
                continue
            paid[key].append(payment)
            owed = line["data"]
            same = ("round_id", "amount") if kind == "award" else ("round_id", "amount", "member_id", "session")
            if wrong := [f"{f} {data.get(f)!r} (owed {owed.get(f)!r})" for f in same if data.get(f) != owed.get(f)]:
                findings.add("payment", str(key[1]), f"pays what is not owed: {', '.join(wrong)}",
                             payment["id"], line["id"])
    for key, payments in paid.items():
        if len(payments) > 1:
            findings.add("payment", str(key[1]), f"{key[0]} paid {len(payments)} times (once expected)",
                         lines[key]["id"], *(p["id"] for p in payments))
    findings.counts["payments"] = sum(len(p) for p in paid.values())
