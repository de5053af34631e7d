"""Escalation matching (pure: no server): a result that goes up a level opens one dossier in the parent round,
unless the producer filed that product there directly, which intake refuses to duplicate; that is no
discrepancy, and a missing escalation still is."""

from __future__ import annotations

import json
from typing import Any

import pytest

from binhchon_kit.personal import new_kid
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


# A household's number is sealed (ADR 0048): the audit, holding no key, recognises the producer's direct filing by
# the same key id on the sealed number and the same product. Forged logs: whatever else matches, a filing that
# differs in one of those, or is not the parent round's own, leaves the missing escalation named.
KID, OTHER_KID = new_kid(), new_kid()


def sealed(kid: str) -> dict[str, str]:
    return {"enc": "A256GCM", "kid": kid, "iv": "AAAAAAAAAAAAAAAA", "ct": "c2VhbGVk"}


def household(kid: str = KID, product: str = "Mật ong rừng Lục Nam") -> dict[str, Any]:
    body = dossier_body(product=product)
    body["producer"].update(kind="household", name=sealed(kid), registration_number=sealed(kid))
    return body


def sealed_log(direct: dict[str, Any] | None, *, round_id: str = PROVINCE,
               escalated_from: dict[str, str] | None = None) -> Log:
    raws = [
        event("round.opened", DISTRICT, {"round_id": DISTRICT, "parent_round_id": PROVINCE}),
        event("round.opened", PROVINCE, {"round_id": PROVINCE, "parent_round_id": None}),
        event("round.opened", "round-other", {"round_id": "round-other", "parent_round_id": None}),
        event("dossier.received", "dossier-h", {"dossier_id": "dossier-h", "round_id": DISTRICT, **household(),
                                                "escalated_from": None}),
        event("result.approved", "scoring-h", {"dossier_id": "dossier-h", "round_id": DISTRICT,
                                               "goes_up_a_level": True, "rating": {"recognised": True}}, 9),
    ]
    if direct is not None:  # the dossier id of a sealed number is intake's secret: any id will do
        raws.append(event("dossier.received", "dossier-direct", {
            "dossier_id": "dossier-direct", "round_id": round_id, **direct, "escalated_from": escalated_from}))
    return Log(raws)


def test_a_household_that_filed_at_the_next_level_is_recognised_by_its_key_id_and_product():
    findings = Findings()
    check_escalations(sealed_log(household(product="  MẬT ONG rừng lục nam ")), findings)  # the product's key
    assert findings.ok, findings.discrepancies
    assert findings.counts["escalations_filed_directly"] == 1 and findings.counts["escalations"] == 0


@pytest.mark.parametrize(("why", "direct", "round_id"), [
    ("nothing filed above", None, PROVINCE),
    ("another producer's key on the same product", household(kid=OTHER_KID), PROVINCE),
    ("the same key on another product", household(product="Mật ong hoa nhãn"), PROVINCE),
    ("the same key and product in a round that is not the parent", household(), "round-other"),
    ("a clear number (an organisation's) on the same product", dossier_body(product="Mật ong rừng Lục Nam"),
     PROVINCE),
])
def test_a_forged_direct_filing_does_not_excuse_a_households_missing_escalation(why, direct, round_id):
    findings = Findings()
    check_escalations(sealed_log(direct, round_id=round_id), findings)
    [missing] = findings.discrepancies
    assert missing.event_ids == ("result.approved-scoring-h",), why
    assert "0 dossiers opened in the parent round" in missing.message, why
    assert "escalations_filed_directly" not in findings.counts, why


def test_an_escalated_copy_above_is_no_direct_filing_of_the_household():
    """A dossier above carrying the household's key and product but escalated from elsewhere is a copy, not the
    producer's own filing: it does not stand in for this result's escalation."""
    findings = Findings()
    elsewhere = {"result_event_id": "result.approved-elsewhere", "dossier_id": "dossier-elsewhere",
                 "round_id": DISTRICT}
    check_escalations(sealed_log(household(), escalated_from=elsewhere), findings)
    named = {d.event_ids: d.message for d in findings.discrepancies}
    assert "0 dossiers opened in the parent round" in named[("result.approved-scoring-h",)]
    direct = ("dossier.received-dossier-direct", "result.approved-elsewhere")
    assert "escalated from no approved result" in named[direct]
    assert "escalations_filed_directly" not in findings.counts


def test_looked_up_events_the_checks_cannot_read_are_named_and_left_out_not_a_crash() -> None:
    """Forged events, hashed and linked as any (whoever can write to a topic can), whose data lacks what the
    cross-service checks read: each named with its event id, and the checks run on without them."""
    from binhchon_tools.audit_awards import check_awards
    from binhchon_tools.audit_decisions import check_certificates

    raws = [
        event("round.opened", "r-1", {"title": "no round id"}),
        event("panel.formed", "p-1", {"round_id": DISTRICT, "members": ["cm-1"], "sessions": []}),
        event("result.approved", "s-1", {"dossier_id": "d-1", "round_id": DISTRICT, "goes_up_a_level": True,
                                         "rating": {"stars": 5}}, 9),
        event("dossier.received", "d-2", {"dossier_id": "d-2", "round_id": PROVINCE, "escalated_from": "s-1"}),
        event("scoring.completed", "s-2", {"round_id": DISTRICT, "totals": [1, 2]}, 8),
        event("prize_schedule.set", "c-1", {"round_id": DISTRICT}),
        event("certificate.issued", "c-2", ["not", "an", "object"]),
    ]
    forged = Log(raws)
    assert sorted((stream, event_id) for stream, event_id, _ in forged.malformed) == sorted([
        ("r-1", "round.opened-r-1"), ("p-1", "panel.formed-p-1"), ("s-1", "result.approved-s-1"),
        ("d-2", "dossier.received-d-2"), ("s-2", "scoring.completed-s-2"), ("c-1", "prize_schedule.set-c-1"),
        ("c-2", "certificate.issued-c-2")])
    why = {stream: text for stream, _, text in forged.malformed}
    assert "data.round_id missing or not a str" in why["r-1"]
    assert "data.rating.recognised" in why["s-1"]
    findings = Findings()
    check_certificates(forged, findings, None)
    check_awards(forged, findings)
    check_escalations(forged, findings)
    assert findings.discrepancies == []


def compact(kind: str, stream: str, data: Any, version: int = 1) -> bytes:
    """An event as the services write it (compact JSON), with only what the log's index reads."""
    return json.dumps({"id": f"{kind}-{stream}", "type": kind, "streamid": stream, "streamversion": version,
                       "data": data}, ensure_ascii=False, separators=(",", ":")).encode()


def receipts_and_a_result() -> tuple[list[bytes], str]:
    """Two rounds, receipts (one escalated, one unreadable, one filed directly above) and a result going up:
    the raws, and the dossier filed directly."""
    direct = dossier_id_for(PROVINCE, BODY["producer"]["registration_number"], BODY["product"]["name"])
    origin = {"result_event_id": "result.approved-elsewhere", "dossier_id": "dossier-x", "round_id": DISTRICT}
    raws = [
        compact("round.opened", DISTRICT, {"round_id": DISTRICT, "parent_round_id": PROVINCE}),
        compact("round.opened", PROVINCE, {"round_id": PROVINCE, "parent_round_id": None}),
        compact("dossier.received", "dossier-d", {"dossier_id": "dossier-d", "round_id": DISTRICT, **BODY,
                                                  "escalated_from": None}),
        compact("dossier.received", "no-id", {"round_id": DISTRICT, "escalated_from": None}),  # unreadable
        compact("dossier.received", "dossier-e", {"dossier_id": "dossier-e", "round_id": PROVINCE, **BODY,
                                                  "escalated_from": origin}),
        compact("dossier.received", direct, {"dossier_id": direct, "round_id": PROVINCE, **BODY,
                                             "escalated_from": None}),
        compact("result.approved", "scoring-d", {"dossier_id": "dossier-d", "round_id": DISTRICT,
                                                 "goes_up_a_level": True, "rating": {"recognised": True}}, 9),
    ]
    return raws, direct


def kept_exact(raws: list[bytes]) -> list[Any]:
    """The raws as the compiled chain check hands them to the log: unread, read exact."""
    from binhchon_tools.audit_chain import Kept

    return [Kept(json.loads(raw)["streamid"], json.loads(raw)["streamversion"], json.loads(raw)["type"], raw, None,
                 True) for raw in raws]


def test_receipts_not_escalated_are_read_only_when_asked_and_give_the_same_answers() -> None:
    """The compiled chain check hands the log its receipts unread: those whose bytes show no escalation are read
    only when a check asks for every receipt (``Log.received``), with the same answers as read up front, and
    those unreadable as their contract says are named then."""
    from binhchon_tools.audit_decisions import not_escalated

    raws, direct = receipts_and_a_result()
    kept = kept_exact(raws)
    lazy, eager = Log(kept), Log(raws)
    assert [s for s, _, _ in lazy.malformed] == []  # nothing read yet but the escalated receipt
    assert [e["id"] for e in lazy.of_type["dossier.received"]] == ["dossier.received-dossier-e"]
    assert lazy.received == eager.received and set(lazy.received) == {"dossier-d", "dossier-e", direct}
    assert lazy.malformed == eager.malformed and [s for s, _, _ in lazy.malformed] == ["no-id"]
    findings, expected = Findings(), Findings()
    check_escalations(Log(kept), findings)
    check_escalations(eager, expected)
    assert findings == expected and findings.counts["escalations_filed_directly"] == 1
    # what the bytes must show for a receipt to wait: one `escalated_from`, null, and no escape
    assert not_escalated(b'{"data":{"escalated_from":null}}')
    assert not not_escalated(b'{"data":{"escalated_from": null}}')  # written otherwise: read
    assert not not_escalated(b'{"data":{"escalated_from":{"dossier_id":"d"}}}')
    assert not not_escalated(b'{"data":{"x":{"escalated_from":null},"escalated\\u005ffrom":{"a":1}}}')
    assert not not_escalated(b'{"data":{"escalated_from":null,"escalated_from":{"a":1}}}')


def test_the_log_takes_the_events_the_verify_parsed_while_reading_each_once_with_the_same_answers() -> None:
    """The verify parses the looked-up types it always reads (``READ_AS_FETCHED``) as the compiled reader hands
    them on; the log takes those parsed events instead of reading the same bytes again, each once, and answers as
    if it had read them itself."""
    import orjson

    from binhchon_tools.audit_decisions import READ_AS_FETCHED

    raws, _ = receipts_and_a_result()
    parsed = {raw: orjson.loads(raw) for raw in raws if json.loads(raw)["type"] in READ_AS_FETCHED}
    given = dict(parsed)
    taking, reading = Log(kept_exact(raws), parsed=parsed), Log(kept_exact(raws))
    assert parsed == {}  # each taken, none left behind
    assert all(any(e is event for e in taking.of_type[event["type"]]) for event in given.values())
    assert (taking.of_type, taking.by_id, taking.rounds, taking.received, taking.malformed) == \
        (reading.of_type, reading.by_id, reading.rounds, reading.received, reading.malformed)
    assert sorted(e["type"] for e in given.values()) == ["result.approved", "round.opened", "round.opened"]
