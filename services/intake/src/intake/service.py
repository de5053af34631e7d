"""Intake's command and query handlers: load state from the event store, let the domain decide, append the
event, refresh the read model. The HTTP routes and the Kafka handlers both call these."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from binhchon_kit.commands import record
from binhchon_kit.contracts.common import Document, Level, Producer, Product
from binhchon_kit.contracts.intake import EscalatedFrom, RoundArea, RoundOpened
from binhchon_kit.contracts.registry import EventData
from binhchon_kit.events import Actor, Cause, RecordedEvent, deterministic_id
from binhchon_kit.eventstore import AlreadyRecorded, ConcurrencyConflict
from binhchon_kit.folding import replay
from binhchon_kit.reserved_numbers import Reservation, release, reserve, settle, still_held
from binhchon_kit.runtime import Runtime
from binhchon_kit.vietnam_time import day_in_vietnam, now_utc
from intake.domain import dossiers, rounds
from intake.domain.errors import Refused

Clock = Callable[[], datetime]
# how long a submission holds the receipt number it claimed before storing its dossier (milliseconds, normally):
# past that, and its dossier not stored with it, the number goes to the next submission
RECEIPT_LEASE = timedelta(minutes=2)


def receipt_number(round_: RoundOpened, number: int) -> str:
    return f"{round_.code}-{number:05d}"


class Intake:
    """``clock``: the instant now (timezone-aware). Receipts are stamped with it and "today" is its date in
    Vietnam, whatever the machine's time zone; tests inject a fixed instant."""

    def __init__(self, runtime: Runtime, clock: Clock = now_utc) -> None:
        self.rt = runtime
        self.store = runtime.store
        self.clock = clock
        self._rounds: dict[str, RoundOpened] = {}

    def now(self) -> datetime:
        """Now, to the millisecond (MongoDB keeps milliseconds; the event's hash must survive a round trip)."""
        now = self.clock().astimezone(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def today(self) -> date:
        return day_in_vietnam(self.clock())

    async def setup(self) -> None:
        db = self.rt.db
        await db["dossiers"].create_index("receipt_number", unique=True)
        await db["dossiers"].create_index([("round_id", 1), ("status", 1)])
        await db["dossiers"].create_index([("province_code", 1), ("district_code", 1)])


    # ---- rounds ----------------------------------------------------------------------------------------

    async def load_round(self, round_id: str) -> RoundOpened:
        # A round is what round.opened said, and nothing amends it: safe to keep once read.
        if (cached := self._rounds.get(round_id)) is not None:
            return cached
        first = await self.store.get(round_id, 1) if round_id.startswith("round-") else None
        if first is None:
            raise Refused(f"no round {round_id}", kind="not_found")
        self._rounds[round_id] = opened = RoundOpened.model_validate(first.data)
        return opened

    async def open_round(self, fields: dict[str, Any], actor: Actor, cause: Cause) -> RecordedEvent:
        fields = {**fields, "code": str(fields["code"]).upper()}  # receipt numbers are looked up upper-case
        round_id = rounds.round_id_for(fields["code"])
        parent = await self.load_round(fields["parent_round_id"]) if fields.get("parent_round_id") else None
        level, area = Level(fields["level"]), RoundArea.model_validate(fields.get("area") or {})
        authority = rounds.approving_authority(level, area, fields.pop("approving_authority", None)
                                               or fields["organiser"])
        if authority is None:  # the area does not say whose round it is
            raise Refused("the round cannot be opened as given", kind="invalid",
                          problems=rounds.area_problems(level, area))
        opened = RoundOpened.model_validate({**fields, "round_id": round_id, "approving_authority": authority})
        exists = await self.store.version(round_id) > 0
        decided = rounds.open_round(opened, exists, today=self.today(), parent=parent)
        try:
            return await record(self.rt, round_id, 0, decided, actor, cause, subject=round_id)
        except ConcurrencyConflict:
            raise Refused(f"a round with code {opened.code} is already open", round_id=round_id) from None

    # ---- dossiers --------------------------------------------------------------------------------------

    async def _reserve_receipt_number(self, round_: RoundOpened, dossier_id: str) -> Reservation:
        """A receipt number with no holes (docs/adr/0038): one a submission claimed and then never stored (it
        died between, or was refused as a duplicate) goes to the next submission."""
        async def holds(claimed_for: str, number: int) -> bool:
            first = await self.store.get(claimed_for, 1)
            return first is not None and first.data.get("receipt_number") == receipt_number(round_, number)

        return await reserve(self.rt.db, f"receipt:{round_.round_id}", claimed_for=dossier_id, now=self.now(),
                             lease=RECEIPT_LEASE, holds=holds)

    async def submit(
        self, round_id: str, producer: Producer, product: Product, documents: list[Document], actor: Actor,
        cause: Cause, escalated_from: EscalatedFrom | None = None, event_id: str | None = None,
    ) -> RecordedEvent:
        round_ = await self.load_round(round_id)
        dossier_id = dossiers.dossier_id_for(round_id, producer.registration_number, product.name)
        if await self.store.version(dossier_id) > 0:
            raise self._duplicate(dossier_id, round_)
        # Validate everything before a receipt number is taken, so a refusal leaves no gap in the numbering.
        now = self.now()
        today = day_in_vietnam(now)
        dossiers.receive(round_, dossier_id=dossier_id, receipt_number="-", received_at=now, today=today,
                         producer=producer, product=product, documents=documents, escalated_from=escalated_from)
        reservation = await self._reserve_receipt_number(round_, dossier_id)
        while not await still_held(self.rt.db, reservation):  # held past its lease, and given to another
            reservation = await self._reserve_receipt_number(round_, dossier_id)
        received = dossiers.receive(
            round_, dossier_id=dossier_id, receipt_number=receipt_number(round_, reservation.number),
            received_at=now, today=today, producer=producer, product=product, documents=documents,
            escalated_from=escalated_from)
        try:
            recorded = await record(self.rt, dossier_id, 0, received, actor, cause, dossier_id, event_id)
        except (ConcurrencyConflict, AlreadyRecorded) as exc:
            await release(self.rt.db, reservation)  # not stored: the number goes to the next submission
            if isinstance(exc, AlreadyRecorded):
                raise
            raise self._duplicate(dossier_id, round_) from None
        await settle(self.rt.db, reservation)
        return recorded

    @staticmethod
    def _duplicate(dossier_id: str, round_: RoundOpened) -> Refused:
        return Refused(f"this producer already has a dossier for this product in round {round_.code}",
                       dossier_id=dossier_id)

    async def load_dossier(self, dossier_id: str) -> tuple[dossiers.Dossier, list[RecordedEvent]]:
        events = await self.store.read_stream(dossier_id) if dossier_id.startswith("dossier-") else []
        state = replay(dossiers.evolve, events)
        if state is None:
            raise Refused(f"no dossier {dossier_id}", kind="not_found")
        return state, events

    async def act(self, dossier_id: str, decide: Callable[[dossiers.Dossier, RoundOpened], EventData],
                  actor: Actor, cause: Cause) -> RecordedEvent:
        """Load, decide, append; on a concurrent change, decide again on the new state (once)."""
        for attempt in (1, 2):
            state, history = await self.load_dossier(dossier_id)
            round_ = await self.load_round(state.round_id)
            event = decide(state, round_)
            try:
                return await record(self.rt, dossier_id, state.version, event, actor, cause, dossier_id,
                                    history=history)
            except ConcurrencyConflict:
                if attempt == 2:
                    raise
                await asyncio.sleep(0)
        raise AssertionError("unreachable")

    # ---- escalation ------------------------------------------------------------------------------------

    async def on_result_approved(self, event: RecordedEvent) -> None:
        """A result that goes up a level opens a dossier in the round's parent round with the original's data."""
        data = event.data
        if not data.get("goes_up_a_level"):
            return
        try:
            state, _ = await self.load_dossier(data["dossier_id"])
        except Refused:
            return  # not a dossier intake knows (another deployment's): nothing to escalate
        round_ = await self.load_round(state.round_id)
        if not round_.parent_round_id:
            return
        received = state.received
        escalated = EscalatedFrom(dossier_id=state.id, round_id=state.round_id, result_event_id=event.id,
                                  rating=data["rating"].get("label"), points=data.get("points"))
        try:
            await self.submit(
                round_.parent_round_id, Producer.model_validate(received["producer"]),
                Product.model_validate(received["product"]),
                [Document.model_validate(d) for d in received["documents"]],
                Actor.system("intake"), Cause.of(event), escalated_from=escalated,
                event_id=deterministic_id("escalate", event.id))
        except (AlreadyRecorded, DuplicateKeyError):
            return
        except Refused as refused:
            if "dossier_id" in refused.detail:
                return  # already escalated (a redelivery, or the producer filed there directly)
            raise
