"""Which events each of certification's handlers is concerned by, from the event alone (ADR 0053): the consumer
passes the others over with no inbox entry, so the test must hold for every delivery of the same event."""

from __future__ import annotations

from datetime import date

from binhchon_kit.contracts.notify import Channel, NotificationFailed, NotificationSent
from binhchon_kit.contracts.scoring import Rating
from binhchon_kit.testing.memory import append, foreign_store
from certification.ceremonies import Ceremonies
from certification.ledger import Ledger
from certification.service import Certification

from .test_certification_service import result
from .test_ledger_sitters import completed


async def test_issuing_and_the_ledger_take_recognised_results_and_the_ledger_every_completion() -> None:
    scoring = foreign_store("scoring")
    recognised = await append(scoring, "scoring-d1", result("d1", date(2026, 11, 20)), subject="d1")
    forwarded = await append(scoring, "scoring-d2", result("d2", date(2026, 11, 20), recognised=False), subject="d2")
    below = result("d3", date(2026, 11, 20)).model_copy(update={"rating": Rating(recognised=False, label="2 sao")})
    not_recognised = await append(scoring, "scoring-d3", below, subject="d3")
    done = await append(scoring, "scoring-d1", completed("d1", ("gk-1",)), subject="d1")
    assert [Certification.recognised(e) for e in (recognised, forwarded, not_recognised)] == [True, False, False]
    assert [Ledger.concerns(e) for e in (recognised, forwarded, not_recognised, done)] == [True, False, False, True]


async def test_ceremony_deliveries_take_only_what_notify_sent_about_a_ceremony() -> None:
    notify = foreign_store("notify")

    async def delivery(n: int, about: str, failed: bool = False) -> bool:
        common = {"delivery_id": f"d-{n}", "about_event_id": f"e-{n}", "about_event_type": about,
                  "recipient": "producer:2400000001", "channel": Channel.EMAIL, "template": "t", "attempts": 1}
        data = NotificationFailed(**common, reason="550") if failed else NotificationSent(**common)
        return Ceremonies.concerns(await append(notify, f"delivery-{n}", data))

    assert [await delivery(1, "ceremony.scheduled"), await delivery(2, "ceremony.scheduled", failed=True),
            await delivery(3, "certificate.issued"), await delivery(4, "dossier.received", failed=True)] == [
        True, True, False, False]
