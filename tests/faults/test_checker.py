"""The checker on hand-made histories: a sound one passes, and each kind of breakage is named (so a fault test
that finds nothing found nothing, rather than looked nowhere)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .checker import DLQ_HEADERS, Evidence, Record, check


def event(i: str, type_: str, **data: Any) -> dict[str, Any]:
    return {"id": i, "type": type_, "data": data}


def sound() -> Evidence:
    """Two dossiers received in one round, both accepted; one recognised result certified; its mails sent."""
    intake = [event("e1", "dossier.received", round_code="H219", receipt_number="H219-00001"),
              event("e2", "dossier.received", round_code="H219", receipt_number="H219-00002")]
    scoring = [event("s1", "panel.formed", members=[{"id": "m1", "email": "m1@x.vn"}, {"id": "m2"}]),
               event("s2", "scoring.completed"),
               event("s3", "result.approved", rating={"recognised": True}),
               event("s4", "result.approved", rating={"recognised": False})]
    certification = [event("c1", "certificate.issued", result_event_id="s3", certificate_id="cert-1",
                           number="01/2026")]
    topics = {name: [Record(name, 0, n, e) for n, e in enumerate(events)] for name, events in
              (("intake.events", intake), ("scoring.events", scoring), ("certification.events", certification))}
    topics["intake.events.dlq"] = [Record("intake.events.dlq", 0, 0, None, {h: "x" for h in DLQ_HEADERS})]
    stores = {"intake": ["e1", "e2"], "scoring": ["s1", "s2", "s3", "s4"], "certification": ["c1"]}
    mailed = {"e1": "dossier.received", "e2": "dossier.received", "s1": "panel.formed", "s2": "scoring.completed",
              "s3": "result.approved", "s4": "result.approved", "c1": "certificate.issued"}
    deliveries = [{"_id": f"d-{i}", "about_event_id": i, "template": t, "status": "sent", "address": f"{i}@x.vn"}
                  for i, t in mailed.items()]
    mails = [(d["address"], d["_id"]) for d in deliveries]
    return Evidence(topics, stores, deliveries, mails, {"intake.dossiers intake.events[0]": 0})


def only(problems: list[str], *words: str) -> None:
    assert len(problems) == 1 and all(w in problems[0] for w in words), problems


def test_a_sound_history_passes():
    assert check(sound()) == []


def test_an_event_stored_but_not_on_its_topic_and_one_on_the_topic_twice():
    ev = sound()
    ev.stores["intake"].append("e9")
    only(check(ev), "e9", "not on its topic")
    ev = sound()
    ev.topics["intake.events"].append(Record("intake.events", 1, 0, event("e1", "dossier.received",
                                                                          round_code="H219",
                                                                          receipt_number="H219-00001")))
    only(check(ev), "e1", "2 times")


def test_a_checkpoint_is_matched_on_the_shared_topic():
    ev = sound()
    ev.stores["intake"].append("k1")
    ev.topics["log.checkpoints"] = [Record("log.checkpoints", 0, 0, event("k1", "log.checkpoint"))]
    assert check(ev) == []
    ev.topics["log.checkpoints"].append(Record("log.checkpoints", 0, 1, event("k2", "log.checkpoint")))
    only(check(ev), "k2", "in no store")


def test_an_event_on_the_topic_never_stored():
    ev = sound()
    ev.stores["scoring"].remove("s2")
    assert any("s2" in p and "not stored" in p for p in check(ev)), check(ev)


def test_copies_a_test_injected_are_not_the_systems_history():
    ev = sound()
    ev.topics["intake.events"].append(Record("intake.events", 2, 7, event("e1", "dossier.received")))
    ev.injected.add(("intake.events", 2, 7))
    assert check(ev) == []


def test_a_recognised_result_without_a_certificate_and_a_number_given_twice():
    ev = sound()
    ev.topics["certification.events"].clear()
    ev.stores["certification"].clear()
    assert "recognised result s3 has no certificate" in check(ev)
    ev = sound()
    ev.topics["scoring.events"].append(Record("scoring.events", 0, 9, event("s5", "result.approved",
                                                                             rating={"recognised": True})))
    ev.stores["scoring"].append("s5")
    ev.topics["certification.events"].append(Record("certification.events", 0, 1, event(
        "c2", "certificate.issued", result_event_id="s5", certificate_id="cert-2", number="01/2026")))
    ev.stores["certification"].append("c2")
    ev.deliveries += [{"_id": f"d-{i}", "about_event_id": i, "template": "x", "status": "sent", "address": "a"}
                      for i in ("s5", "c2")]
    ev.mails += [("a", "d-s5"), ("a", "d-c2")]
    only(check(ev), "number 01/2026")


def test_two_certificates_for_one_result():
    ev = sound()
    ev.topics["certification.events"].append(Record("certification.events", 0, 1, event(
        "c2", "certificate.issued", result_event_id="s3", certificate_id="cert-2", number="02/2026")))
    ev.stores["certification"].append("c2")
    ev.deliveries.append({"_id": "d-c2", "about_event_id": "c2", "template": "x", "status": "sent", "address": "a"})
    ev.mails.append(("a", "d-c2"))
    only(check(ev), "s3 has 2 certificates")


def test_a_hole_in_the_receipt_numbers():
    ev = sound()
    ev.topics["intake.events"][1] = replace(ev.topics["intake.events"][1], event=event(
        "e2", "dossier.received", round_code="H219", receipt_number="H219-00003"))
    only(check(ev), "H219", "[2]")


def test_a_mail_lost_stuck_sent_twice_or_never_made():
    ev = sound()
    ev.mails.remove(("c1@x.vn", "d-c1"))
    only(check(ev), "certificate.issued", "never received")
    ev = sound()
    ev.deliveries[0]["status"] = "pending"
    only(check(ev), "pending, never sent")
    ev = sound()
    ev.mails.append(("s2@x.vn", "d-s2"))
    only(check(ev), "received 2 times")
    assert check(ev, duplicate_mails_allowed=1) == []
    ev = sound()
    ev.deliveries = [d for d in ev.deliveries if d["about_event_id"] != "s2"]
    ev.mails.remove(("s2@x.vn", "d-s2"))
    only(check(ev), "scoring.completed s2", "0 mail(s) made, 1 called for")
    ev = sound()
    ev.mails.append(("who@x.vn", "d-unknown"))
    only(check(ev), "never made")


def test_a_dead_letter_without_its_headers_and_a_consumer_that_stopped():
    ev = sound()
    ev.topics["intake.events.dlq"].append(Record("intake.events.dlq", 0, 1, None, {"dlq-reason": "bad"}))
    only(check(ev), "lacks headers", "dlq-source-offset")
    ev = sound()
    ev.lag["scoring.intake scoring.events[2]"] = 3
    only(check(ev), "3 record(s) behind")


def test_a_log_with_a_hole_or_an_event_twice_is_named():
    ev = sound()
    ev.leaves = {"scoring": [(0, "s1"), (1, "s2"), (2, "s3"), (3, "s4")]}
    assert check(ev) == []
    ev.leaves = {"scoring": [(0, "s1"), (1, "s2"), (4, "s3")]}  # 2 and 3 lost: no checkpoint past leaf 1
    only(check(ev), "scoring", "no leaf 2", "2 missing of 5")
    ev.leaves = {"scoring": [(0, "s1"), (1, "s2"), (2, "s2")]}
    only(check(ev), "scoring", "s2", "2 leaves")
    ev.leaves = {"intake": [(0, "e1"), (1, "x9")]}
    only(check(ev), "intake", "x9", "not stored")
