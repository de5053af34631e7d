"""Prizes and judges' fees (ADR 0050): the round's schedule, the awards and fees it makes owed, their payment,
and the products displayed at an exhibition.

What is owed follows from three things that arrive in any order: the secretariat's schedule (an HTTP command),
scoring's recognised results and who sat on the panel (``scoring.events``, another partition each). Every
writer records its fact first and then settles the round from all that is known; each award or fee has an
event id that follows from what it is for, so whoever settles it, however often, records it once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pymongo.errors import DuplicateKeyError

from binhchon_kit import key_range, paging
from binhchon_kit.commands import record
from binhchon_kit.contracts.ledger import AwardPaid, FeePaid, PrizeRate, PrizeScheduleSet, ProductDisplayed
from binhchon_kit.contracts.registry import EventData
from binhchon_kit.events import Actor, Cause, RecordedEvent, deterministic_id
from binhchon_kit.eventstore import AlreadyRecorded, ConcurrencyConflict
from binhchon_kit.runtime import Runtime
from certification.domain import certificates as certs
from certification.domain import ledger as rules
from certification.domain.errors import Refused

SYSTEM = Actor.system("certification")
FILED = "displays_by_certificate"  # one document per displayed certificate: its displays in order of date


class Ledger:
    def __init__(self, runtime: Runtime, today: Callable[[], date]) -> None:
        self.rt = runtime
        self.db = runtime.db
        self.today = today

    async def setup(self) -> None:
        for name in ("ledger_results", "ledger_sitters"):
            await self.db[name].create_index("round_id")
        await self.db["ledger_lines"].create_index([("round_id", 1), ("page_key", 1)])
        await self.db["displays"].create_index("certificate_number")
        # a certificate's displays as one key range (ADR 0050, amendment); displays stored before it get theirs
        await self.db["displays"].create_index("display_key")
        await paging.fill_keys(self.db, "displays", rules.display_key, key="display_key")
        await self.file_every_display()

    # ---- the displays filed by certificate (ADR 0050, amendment) ---------------------------------------

    async def file_displays(self, number: str) -> None:
        """File the certificate's displays in one document keyed by its number, which the registry reads for a
        whole page at once (``_id`` among its numbers, from the index: FerretDB build b9).

        Displays are only ever added, so the filing holding more of them is the newer: a filing replaces the
        stored one only if it holds as many or more (two filings racing each keep the larger; as many is the same
        displays, so a refiling after a rebuild, or after a change of what is filed, writes them as they are now);
        and after writing, the
        certificate's displays are counted again, and filed again if one arrived meanwhile. Follows every
        projection of a display (the writer's and the projector's pass before its mark), so a crash between the
        display and its filing is mended within seconds."""
        while True:
            found = [d async for d in self.db["displays"].find({"display_key": rules.display_keys(number)})]
            try:
                await self.db[FILED].replace_one(
                    {"_id": number, "count": {"$lte": len(found)}},
                    {"_id": number, "count": len(found), "displays": rules.displays_filed(found)}, upsert=True)
            except DuplicateKeyError:
                pass  # a filing with more displays is stored
            if await self.db["displays"].count_documents({"display_key": rules.display_keys(number)}) == len(found):
                return

    async def on_display_projected(self, stream: str, state: dict[str, Any]) -> None:
        await self.file_displays(state["certificate_number"])

    async def file_every_display(self) -> None:
        """Displays recorded before they were filed by certificate get filed, once per deploy (a marker, as for a
        read model's new key: a crash before the marker files them again, which changes nothing)."""
        marker = f"{FILED}.v1"
        if await self.db["read_model_keys"].find_one({"_id": marker}) is not None:
            return
        numbers = {d["certificate_number"] async for d in self.db["displays"].find({}, {"certificate_number": 1})}
        for number in sorted(numbers):
            await self.file_displays(number)
        try:
            await self.db["read_model_keys"].replace_one({"_id": marker}, {"filed": len(numbers)}, upsert=True)
        except DuplicateKeyError:
            pass  # a replica starting at the same moment filed them too

    async def settle_all(self) -> None:
        """Every scheduled round settled once, in the background after start: what a schedule set over HTTP and
        cut short before its settling left (a consumer's fact is redelivered until its settling is done)."""
        async for schedule in self.db["prize_schedules"].find({}, projection={"round_id": 1}):
            await self.settle(schedule["round_id"], Cause("startup", "startup:ledger"))

    # ---- facts from scoring --------------------------------------------------------------------------

    @staticmethod
    def concerns(event: RecordedEvent) -> bool:
        """Every panel and completion; a result only when recognised (no prize otherwise): from the event alone."""
        return event.type != "result.approved" or bool(event.data["rating"]["recognised"])

    async def on_scoring_event(self, event: RecordedEvent) -> None:
        """Keep the fact, then record only what it adds (the whole round is settled when its panel or its schedule
        arrives): a result its award, a completion the fees of its members."""
        data, round_id, cause = event.data, event.data["round_id"], Cause.of(event)
        if event.type == "result.approved":
            if not data["rating"]["recognised"]:
                return  # forwarded or below the level: no prize at this level, no award
            kept = {"round_id": round_id, "data": data}
            await self._keep("ledger_results", event.id, kept)
            if (schedule := await self.schedule(round_id)) is not None:
                await self._award({"_id": event.id, **kept}, schedule, cause)
        elif event.type == "panel.formed":
            await self._keep("ledger_panels", round_id, {
                "round_id": round_id, "panel_id": data["panel_id"], "sessions": data["sessions"],
                "members": [{k: m[k] for k in ("id", "name", "role")} for m in data["members"]]})
            await self.settle(round_id, cause)
        else:  # scoring.completed: the members whose sheets counted sat for the panel
            await self._keep_sitters(round_id, list(data["totals"]))
            await self._fees(round_id, list(data["totals"]), cause)

    async def _keep_sitters(self, round_id: str, members: list[str]) -> None:
        """Keep the members not yet known to have sat in the round. A sitter's document follows from its key, and
        the same members score every dossier of a round: rewriting all seven on each dossier's completion was
        seven rows PostgreSQL wrote for nothing (ADR 0053). One read of the round's sitters instead; a sitter
        inserted by a racing handler meanwhile is the same document (the duplicate key is ignored)."""
        known = {s["_id"] for s in await self._sitters(round_id)}
        for member_id in members:
            if (key := f"{round_id}|{member_id}") not in known:
                try:
                    await self.db["ledger_sitters"].insert_one({"_id": key, "round_id": round_id,
                                                                "member_id": member_id})
                except DuplicateKeyError:
                    pass

    async def _sitters(self, round_id: str) -> list[dict[str, Any]]:
        """The round's sitters, by their keys (``<round>|<member>``, a round id holds no ``|``) as a range of the
        `_id` index: an equality on ``round_id`` read every sitter of every round (issue 14)."""
        return await key_range.with_prefix(self.db["ledger_sitters"], f"{round_id}|")

    async def _keep(self, name: str, key: str, doc: dict[str, Any]) -> None:
        try:
            await self.db[name].replace_one({"_id": key}, doc, upsert=True)
        except DuplicateKeyError:
            await self.db[name].replace_one({"_id": key}, doc)  # inserted a moment ago by a redelivery

    # ---- the schedule --------------------------------------------------------------------------------

    async def set_schedule(self, round_id: str, prizes: list[PrizeRate], fee_per_session: int, basis: str | None,
                           actor: Actor, cause: Cause) -> tuple[dict[str, Any], bool]:
        """The round's schedule, and whether this call set it. Set once: the same schedule again settles what is
        still unsettled and answers as before; another one is a conflict (awards were granted under the first)."""
        if problems := rules.check_rates(prizes):
            raise Refused("; ".join(problems), kind="invalid", field="prizes")
        wanted = PrizeScheduleSet(round_id=round_id, prizes=prizes, fee_per_session=fee_per_session, basis=basis)
        stream = rules.schedule_id(round_id)
        created = True
        try:
            await record(self.rt, stream, 0, wanted, actor, cause, round_id)
        except (AlreadyRecorded, ConcurrencyConflict):
            created = False
        schedule = await self.schedule(round_id)
        assert schedule is not None
        if not created and {k: v for k, v in schedule.items() if k != "event_id"} != wanted.model_dump(mode="json"):
            raise Refused(f"round {round_id} already has its prize schedule; awards and fees are owed under it",
                          schedule=schedule)
        await self.settle(round_id, cause)
        return schedule, created

    async def schedule(self, round_id: str) -> dict[str, Any] | None:
        event = await self.rt.store.get(rules.schedule_id(round_id), 1)
        return rules.fold_schedule([event]) if event else None

    # ---- settling ------------------------------------------------------------------------------------

    async def settle(self, round_id: str, cause: Cause) -> None:
        """Record every award and fee the round owes and has not recorded; nothing before its schedule."""
        schedule = await self.schedule(round_id)
        if schedule is None:
            return
        async for result in self.db["ledger_results"].find({"round_id": round_id}):
            await self._award(result, schedule, cause)
        sitters = [s["member_id"] for s in await self._sitters(round_id)]
        await self._fees(round_id, sitters, cause, schedule)

    async def _award(self, result: dict[str, Any], schedule: dict[str, Any], cause: Cause) -> None:
        owed = rules.award(result["_id"], result["data"], schedule)
        await self._owe(owed.award_id, owed, result["data"]["dossier_id"], cause)

    async def _fees(self, round_id: str, sitters: list[str], cause: Cause,
                    schedule: dict[str, Any] | None = None) -> None:
        """The fees ``sitters`` are owed, once the round has its schedule and its panel (else settled later)."""
        schedule = schedule or await self.schedule(round_id)
        panel = await self.db["ledger_panels"].find_one({"_id": round_id}) if schedule is not None else None
        if schedule is None or panel is None:
            return
        for fee in rules.fees(round_id, panel, sitters, schedule):
            await self._owe(fee.fee_id, fee, round_id, cause)

    async def _owe(self, stream: str, owed: EventData, subject: str, cause: Cause) -> None:
        if await self.rt.store.get(stream, 1) is not None:
            return  # the usual case on a redelivery: recorded before
        try:
            await record(self.rt, stream, 0, owed, SYSTEM, cause, subject, event_id=deterministic_id("owed", stream))
        except (AlreadyRecorded, ConcurrencyConflict):
            pass  # another settler recorded the same line a moment ago

    # ---- payments ------------------------------------------------------------------------------------

    async def pay(self, kind: str, line_id: str, reference: str, paid_on: date, actor: Actor, cause: Cause
                  ) -> dict[str, Any]:
        """Pay an award or a fee in full, once: 404 if nothing of that id is owed, 409 if it was paid."""
        prefix = rules.AWARD if kind == rules.AWARD else rules.FEE
        if not line_id.startswith(prefix + "-"):
            raise Refused(f"no {kind} {line_id} is owed", kind="not_found")
        if paid_on > self.today():
            raise Refused(f"the payment date {paid_on:%d/%m/%Y} is after today ({self.today():%d/%m/%Y})",
                          kind="invalid", field="paid_on")
        events = await self.rt.store.read_stream(line_id)
        if not events:
            raise Refused(f"no {kind} {line_id} is owed", kind="not_found")
        owed = events[0].data
        if len(events) > 1:
            raise Refused(f"{kind} {line_id} is paid already", paid=events[1].data)
        paid: EventData
        if kind == rules.AWARD:
            paid = AwardPaid(award_id=line_id, round_id=owed["round_id"], amount=owed["amount"],
                             payment_reference=reference, paid_on=paid_on)
        else:
            paid = FeePaid(fee_id=line_id, round_id=owed["round_id"], member_id=owed["member_id"],
                           session=owed["session"], amount=owed["amount"], payment_reference=reference, paid_on=paid_on)
        try:
            recorded = await record(self.rt, line_id, 1, paid, actor, cause, events[0].subject, history=events,
                                    event_id=deterministic_id("paid", line_id))
        except (AlreadyRecorded, ConcurrencyConflict):
            raise Refused(f"{kind} {line_id} is paid already") from None
        return rules.fold_line([*events, recorded])

    # ---- the exhibition ------------------------------------------------------------------------------

    async def display(self, certificate: dict[str, Any], status: str, exhibition: str, on: date,
                      until: date | None, place: str, code: str | None, actor: Actor, cause: Cause
                      ) -> tuple[dict[str, Any], bool]:
        """Record that a recognised product is displayed at an event; the same certificate, event, day and place
        again is the same display."""
        if status != certs.VALID:
            raise Refused(f"certificate {certificate['number']} is {status}: only a recognised product is displayed",
                          status=status)
        if until is not None and until < on:
            raise Refused("the display ends before it begins", kind="invalid", field="until")
        stream = rules.display_id(certificate["number"], certs.normalised(exhibition), on.isoformat(),
                                  certs.normalised(place))
        displayed = ProductDisplayed(display_id=stream, certificate_number=certificate["number"],
                                     round_id=certificate["round_id"], exhibition=exhibition, on=on, until=until,
                                     place=place, product_name=certificate["product_name"], code=code)
        try:
            event = await record(self.rt, stream, 0, displayed, actor, cause, certificate["dossier_id"])
            return paging.strip(rules.fold_display([event]), "display_key"), True  # the key is the store's
        except (AlreadyRecorded, ConcurrencyConflict):
            first = await self.rt.store.get(stream, 1)
            assert first is not None
            return paging.strip(rules.fold_display([first]), "display_key"), False
