"""One decision at a time on a proposal, and a decision a crash left part way finished (ADR 0038, amended).

Recording a decision holds a lease on its proposal (ADR 0013's claim in ``decision_leases``): two approvers deciding
at once could otherwise each record part of its dossiers. The lease carries the whole decision being recorded —
its reference, the dossiers chosen, the approver and the cause — so that, if its holder dies part way (SIGKILL
between two dossiers' results), whoever takes the lapsed lease over can finish exactly that decision: the service
itself (``Scoring.finish_left_decisions``), or the same approval asked again. Asked again while the lease holds,
the same decision is told to come back when it is over (503, ``UnderWay``), never a 409 a client reads as done;
another decision is refused (409): the one under way settles the proposal first.

A decision over many dossiers can outlast the lease: its holder renews it (``Held.keep``, before each dossier's
result, a new generation once a third of it is left, by the service's clock) so that no replica's repair loop takes
it over while it is being recorded; a holder that finds it taken over (it stalled past its lapse) stops, writing
nothing more: the replica that took it finishes the decision (ADR 0038, amended 2026-11-30).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from binhchon_kit import claims
from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.errors import UnderWay
from binhchon_kit.events import Actor, Cause
from scoring.domain.errors import Refused

COLLECTION = "decision_leases"
# how long a decision being recorded holds its proposal: freed at the end, or by a crash's lapse
DECISION_LEASE = timedelta(seconds=30)
TRIES = 3  # a lease freed between our take and our look at its holder is taken again, a few times

Doc = dict[str, Any]


@dataclass(frozen=True)
class Recording:
    """A decision being recorded on a proposal: all that a successor needs to finish it."""

    proposal_id: str
    decision: DecisionReference
    dossier_ids: tuple[str, ...]
    actor: Actor
    cause: Cause

    def fields(self, until: datetime) -> Doc:
        return {"until": until, "decision": self.decision.number, "reference": self.decision.model_dump(mode="json"),
                "dossier_ids": list(self.dossier_ids), "actor": self.actor.as_document(),
                "cause": {"correlation_id": self.cause.correlation_id, "causation_id": self.cause.causation_id}}

    @classmethod
    def of(cls, lease: Doc) -> Recording | None:
        """The decision a lease holds; None for a lease written before leases carried it (its number only)."""
        if "reference" not in lease:
            return None
        return cls(proposal_id=str(lease["claim"]), decision=DecisionReference.model_validate(lease["reference"]),
                   dossier_ids=tuple(lease["dossier_ids"]),
                   actor=Actor.from_document(lease["actor"]),
                   cause=Cause(lease["cause"]["correlation_id"], lease["cause"]["causation_id"]))


def taken_by(decision: DecisionReference, now: datetime) -> Callable[[Doc], bool]:
    """``free`` for ``decision`` asking the proposal's lease: released, or lapsed and carrying the same decision (it
    finishes it) or none it could finish (a lease written before leases carried it). A lapsed lease of another
    decision, unreleased, is that decision left part way (its holder stalled or dead): taken by another decision,
    refused and released, its record of what to finish would be gone and it would stay half recorded; it is
    finished first, by its holder or the repair loop (ADR 0038, amended 2026-11-30)."""
    lapsed = claims.lapsed("until", now)

    def free(newest: Doc) -> bool:
        if newest.get("released"):
            return True
        return lapsed(newest) and ("reference" not in newest or same_decision(newest, decision))
    return free


def same_decision(lease: Doc, decision: DecisionReference) -> bool:
    if "reference" in lease:
        return DecisionReference.model_validate(lease["reference"]) == decision
    return bool(lease.get("decision") == decision.number)


class DecisionLeases:
    def __init__(self, db: AsyncDatabase[Doc], clock: Callable[[], datetime]) -> None:
        self.rows = db[COLLECTION]
        self.clock = clock

    async def take(self, recording: Recording) -> Doc:
        """The proposal's lease for ``recording``, or: ``UnderWay`` (503) while it holds for the same decision,
        ``Refused`` (409) while it holds for another."""
        for _ in range(TRIES):
            now = self.clock()
            free = taken_by(recording.decision, now)
            lease = await claims.take(self.rows, recording.proposal_id, recording.fields(now + DECISION_LEASE), free)
            if lease is not None:
                return lease
            holder = await claims.newest(self.rows, recording.proposal_id)
            if holder is None or free(holder):
                continue  # released (or lapsed) between the two reads: take it again
            if same_decision(holder, recording.decision):
                left = (claims.aware(holder["until"]) - now).total_seconds()
                raise UnderWay("this decision on this proposal is being recorded (or a crash left it part way, and "
                               "it is finished once its lease is over)", retry_after=math.ceil(left),
                               proposal_id=recording.proposal_id)
            raise Refused("another decision on this proposal is being recorded (or was left part way, and is "
                          "finished first); read its dossiers, then decide again if need be",
                          proposal_id=recording.proposal_id)
        raise UnderWay("a decision on this proposal was being recorded a moment ago", retry_after=1,
                       proposal_id=recording.proposal_id)

    async def left_by_crash(self, proposal_id: str) -> Doc | None:
        """The proposal's lease if its holder left it unreleased and it has lapsed, carrying what to finish."""
        lease = await claims.newest(self.rows, proposal_id)
        if lease is None or lease.get("released") or "reference" not in lease:
            return None
        return lease if claims.lapsed("until", self.clock())(lease) else None

    async def take_over(self, left: Doc) -> Doc | None:
        """The lapsed lease ``left`` taken over to finish its decision (None: another replica took it first)."""
        recording = Recording.of(left)
        assert recording is not None
        now = self.clock()
        return await claims.take(self.rows, recording.proposal_id, recording.fields(now + DECISION_LEASE),
                                 claims.lapsed("until", now))

    async def renew(self, lease: Doc) -> Doc | None:
        """The next generation of ``lease``, the same decision until ``DECISION_LEASE`` from now, if ``lease`` is
        still the proposal's newest (lapsed or not: nobody took it over); None if another holds the proposal now.
        An insert, like a takeover: a renewal and a repair loop's takeover racing on a lapsed lease, one wins."""
        fields = {k: v for k, v in lease.items() if k not in ("_id", "claim", "gen")}
        return await claims.take(self.rows, str(lease["claim"]), {**fields, "until": self.clock() + DECISION_LEASE},
                                 lambda newest: newest["_id"] == lease["_id"] and not newest.get("released"))

    async def release(self, lease: Doc) -> None:
        await self.rows.update_one({"_id": lease["_id"]}, {"$set": {"released": True}})


class Held:
    """A decision's lease while its holder records it: ``doc``, its current generation."""

    def __init__(self, leases: DecisionLeases, doc: Doc) -> None:
        self.leases = leases
        self.doc = doc

    async def keep(self) -> None:
        """Renew the lease when a third of it is left (by the clock); ``UnderWay`` if another holds it now: the
        holder stalled past its lapse and a repair loop took the decision over, so this one writes nothing more."""
        if claims.aware(self.doc["until"]) - self.leases.clock() > DECISION_LEASE / 3:
            return
        renewed = await self.leases.renew(self.doc)
        if renewed is None:
            raise UnderWay("this decision's lease was taken over while it was recorded: another scoring process "
                           "finishes it", retry_after=1, proposal_id=str(self.doc["claim"]))
        self.doc = renewed
