"""A decision's lease renewed by its holder while a repair loop takes it over, both on the lapsed lease, on the real
store (FerretDB on PostgreSQL in the fixtures) and an injected clock: exactly one of them holds it afterwards, never
both, never neither (ADR 0038, amended 2026-11-30; the claims of ADR 0013)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from binhchon_kit import claims
from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.errors import UnderWay
from binhchon_kit.events import Actor, Cause
from binhchon_kit.testing.memory import FixedClock
from scoring.decision_leases import DECISION_LEASE, DecisionLeases, Held, Recording

pytestmark = pytest.mark.integration
ROUNDS = 12


def recording(proposal_id: str) -> Recording:
    decision = DecisionReference(number="94/QĐ-UBND", date=date(2026, 11, 30), signer="Phó Chủ tịch UBND tỉnh",
                                 authority="UBND tỉnh Bắc Giang", authority_id="province:24")
    return Recording(proposal_id, decision, ("dossier-1", "dossier-2"), Actor("ubnd-bg", ("approver",)),
                     Cause("c-1", "c-1"))


async def test_a_renewal_and_a_takeover_racing_on_a_lapsed_lease_leave_exactly_one_holder(mongo, unique):
    clock = FixedClock(datetime(2026, 11, 30, 3, 0, tzinfo=UTC))
    holder_side = DecisionLeases(mongo[f"scoring_{unique}"], clock)
    repair_side = DecisionLeases(mongo[f"scoring_{unique}"], clock)  # another replica, same store and clock
    winners = []
    for n in range(ROUNDS):
        held = Held(holder_side, await holder_side.take(recording(f"proposal-{unique}-{n}")))
        clock.now += DECISION_LEASE + timedelta(seconds=1)  # the holder stalled past its lease
        left = await repair_side.left_by_crash(f"proposal-{unique}-{n}")
        assert left is not None, "the lapsed lease is seen as left"
        kept, taken = await asyncio.gather(held.keep(), repair_side.take_over(left), return_exceptions=True)
        renewed = kept is None
        assert renewed or isinstance(kept, UnderWay), kept
        assert not isinstance(taken, BaseException), taken
        assert renewed != (taken is not None), f"round {n}: renewed {renewed}, taken over {taken is not None}"
        newest = await claims.newest(holder_side.rows, f"proposal-{unique}-{n}")
        assert newest is not None and newest["_id"] == (held.doc if renewed else taken)["_id"]
        assert not claims.lapsed("until", clock())(newest), "the one holding it holds it unexpired"
        if not renewed:  # the holder, told so, writes nothing more: asked again, still not its
            with pytest.raises(UnderWay):
                await held.keep()
        winners.append("holder" if renewed else "repair")
    assert len(winners) == ROUNDS
