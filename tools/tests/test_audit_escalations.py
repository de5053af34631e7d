"""Escalation matching (pure: no server): a result that goes up a level opens one dossier in the parent round,
unless the producer filed that product there directly, which intake refuses to duplicate; that is no
discrepancy, and a missing escalation still is."""

from __future__ import annotations

import json
from typing import Any

from binhchon_kit.testing.samples import dossier_body
from binhchon_tools.audit_decisions import Log, check_escalations
from binhchon_tools.audit_findings import Findings
from intake.domain.dossiers import dossier_id_for

DISTRICT, PROVINCE = "round-luc-nam", "round-bac-giang"
BODY = dossier_body(product="Mật ong rừng Lục Nam", regno="2400123400")


def event(kind: str, stream: str, data: dict[str, Any], version: int = 1) -> bytes:
    return json.dumps({"id": f"{kind}-{stream}", "type": kind, "streamid": stream, "streamversion": version,
                       "data": data}, ensure_ascii=False).encode()


def log(*, filed_directly: bool) -> Log:
    raws = [
        event("round.opened", DISTRICT, {"round_id": DISTRICT, "parent_round_id": PROVINCE}),
        event("round.opened", PROVINCE, {"round_id": PROVINCE, "parent_round_id": None}),
        event("dossier.received", "dossier-d", {"dossier_id": "dossier-d", "round_id": DISTRICT, **BODY,
                                                "escalated_from": None}),
        event("result.approved", "scoring-d", {"dossier_id": "dossier-d", "round_id": DISTRICT,
                                               "goes_up_a_level": True, "rating": {"recognised": True}}, 9),
    ]
    if filed_directly:  # the producer's own dossier in the province round, with intake's id for it
        direct = dossier_id_for(PROVINCE, BODY["producer"]["registration_number"], BODY["product"]["name"])
        raws.append(event("dossier.received", direct, {"dossier_id": direct, "round_id": PROVINCE, **BODY,
                                                       "escalated_from": None}))
    return Log(raws)


def test_a_producer_who_filed_at_the_next_level_is_no_discrepancy():
    findings = Findings()
    check_escalations(log(filed_directly=True), findings)
    assert findings.ok, findings.discrepancies
    assert findings.counts["escalations_filed_directly"] == 1 and findings.counts["escalations"] == 0


def test_a_result_going_up_with_no_dossier_above_is_still_named():
    findings = Findings()
    check_escalations(log(filed_directly=False), findings)
    [missing] = findings.discrepancies
    assert missing.event_ids == ("result.approved-scoring-d",)
    assert "0 dossiers opened in the parent round" in missing.message
