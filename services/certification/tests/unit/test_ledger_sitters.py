"""Who sat in a round, kept by the ledger from scoring.completed (ADR 0050, ADR 0053): each member written once
for the whole round, not once per dossier completed; a crash between keeping the sitters and owing their fees
is made good by the redelivery, and a duplicate owes nothing twice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from binhchon_kit.contracts.ledger import PrizeRate
from binhchon_kit.contracts.scoring import MemberRole, PanelFormed, PanelMember, Quorum, ScoringCompleted, Session
from binhchon_kit.events import Actor, Cause
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.memory import FixedClock, append, consume, foreign_store, memory_runtime
from certification.domain.ledger import fold_line, fold_schedule
from certification.ledger import Ledger

ROUND = "round-bac-giang-2026"
MEMBERS = [("gk-chu-tich", MemberRole.CHAIR), ("gk-1", MemberRole.MEMBER), ("gk-2", MemberRole.MEMBER),
           ("gk-3", MemberRole.MEMBER)]
SESSIONS = [Session.DOSSIER, Session.SAMPLES]


class ProcessDied(Exception):
    """Stands for the process dying: what was written before stays, what would come after never happens."""


class CountedWrites:
    """A collection that counts the writes made to it (each one a row PostgreSQL writes under FerretDB)."""

    def __init__(self, collection: Any) -> None:
        self.collection, self.writes = collection, 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.collection, name)
        if name.startswith(("insert", "replace", "update")):
            self.writes += 1
        return attribute


class Database:
    def __init__(self, db: Any) -> None:
        self.db, self.sitters = db, CountedWrites(db["ledger_sitters"])

    def __getitem__(self, name: str) -> Any:
        return self.sitters if name == "ledger_sitters" else self.db[name]


def completed(dossier: str, judges: tuple[str, ...]) -> ScoringCompleted:
    return ScoringCompleted(
        dossier_id=dossier, round_id=ROUND, rulebook_id="ocop-2023", rulebook_version=1, scoring_round=1,
        average_total=70, rounding="2 chữ số", part_averages=[], totals=dict.fromkeys(judges, 70), outliers=[],
        passed=True, rating_label="3 sao", mandatory=[], recognised_at_level=True, goes_up_a_level=False, spread=0,
        spread_exceeded=False)


@pytest.fixture
async def ledger() -> Ledger:
    clock = FixedClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    runtime = memory_runtime(ServiceSettings(service_name="certification"), {
        "fee": ("ledger_lines", fold_line), "schedule": ("prize_schedules", fold_schedule)}, clock.in_vietnam)
    ledger = Ledger(runtime, lambda: date(2026, 11, 23))
    ledger.db = Database(runtime.db)
    await ledger.set_schedule(ROUND, [PrizeRate(amount=2_000_000)], 500_000, None, Actor("tk-1", ("secretariat",)),
                              Cause("c", "c"))
    return ledger


async def fees_owed(ledger: Ledger) -> list[str]:
    return sorted([e.data["fee_id"] async for e in ledger.rt.store.replay() if e.type == "fee.owed"])


async def test_the_members_who_sat_are_written_once_for_the_round_not_once_per_dossier(ledger: Ledger) -> None:
    scoring = foreign_store("scoring")
    panel = PanelFormed(panel_id="p-1", round_id=ROUND, name="Hội đồng huyện",
                        members=[PanelMember(id=i, name=i, organisation="UBND", role=r) for i, r in MEMBERS],
                        quorum=Quorum(), sessions=SESSIONS)
    await consume(ledger.on_scoring_event, await append(scoring, f"panel-{ROUND}", panel, subject=ROUND))
    for n in range(5):
        judges = ("gk-chu-tich", "gk-1", "gk-2") if n < 4 else ("gk-chu-tich", "gk-1", "gk-3")
        event = await append(scoring, f"scoring-d{n}", completed(f"d{n}", judges), subject=f"d{n}")
        await consume(ledger.on_scoring_event, event)
        await consume(ledger.on_scoring_event, event)  # a duplicate delivery
    assert ledger.db.sitters.writes == 4  # before: three a completion, five completions twice: thirty
    sitters = await ledger.db["ledger_sitters"].find({"round_id": ROUND}).to_list()
    assert sorted(s["member_id"] for s in sitters) == ["gk-1", "gk-2", "gk-3", "gk-chu-tich"]
    assert len(await fees_owed(ledger)) == 4 * len(SESSIONS)


async def test_a_crash_between_keeping_the_sitters_and_owing_their_fees_is_made_good_by_the_redelivery(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    scoring = foreign_store("scoring")
    panel = PanelFormed(panel_id="p-1", round_id=ROUND, name="Hội đồng huyện",
                        members=[PanelMember(id=i, name=i, organisation="UBND", role=r) for i, r in MEMBERS],
                        quorum=Quorum(), sessions=SESSIONS)
    await consume(ledger.on_scoring_event, await append(scoring, f"panel-{ROUND}", panel, subject=ROUND))
    event = await append(scoring, "scoring-d1", completed("d1", ("gk-chu-tich", "gk-1")), subject="d1")

    async def dies(*_: Any, **__: Any) -> None:
        raise ProcessDied

    monkeypatch.setattr(ledger, "_fees", dies)
    with pytest.raises(ProcessDied):
        await ledger.on_scoring_event(event)
    monkeypatch.undo()
    assert await fees_owed(ledger) == []  # the sitters are kept, no fee owed yet
    await consume(ledger.on_scoring_event, event)  # the consumer did not commit: the event comes again
    await consume(ledger.on_scoring_event, event)
    owed = await fees_owed(ledger)
    assert len(owed) == len(set(owed)) == 2 * len(SESSIONS)
    assert ledger.db.sitters.writes == 2
