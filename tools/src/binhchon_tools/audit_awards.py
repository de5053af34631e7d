"""Prizes matched with results (ADR 0050): in a round whose prize schedule is set, every recognised
``result.approved`` has exactly one ``award.granted``, for the amount the schedule gives its rating; no other
result has any, and a round without a schedule has none. A discrepancy names the events concerned."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from binhchon_tools.audit_decisions import Log
from binhchon_tools.audit_findings import Findings
from certification.domain.ledger import prize_for

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
