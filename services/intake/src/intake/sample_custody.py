"""Sample custody's commands and reads (issue 16, ADR 0046): beside intake's dossiers, on streams of their own
(``samples-…``), with the dossier as subject. Also the selection codes' uniqueness per round, and closing a round
(refused while samples are held with no reason recorded)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from binhchon_kit import paging
from binhchon_kit.commands import record
from binhchon_kit.contracts.intake import DossierAccepted
from binhchon_kit.contracts.registry import EventData, type_of
from binhchon_kit.contracts.samples import (
    SEALED_FIELDS,
    RetainedSamples,
    RoundClosed,
    SamplesConsumed,
    SamplesMoved,
    SamplesReceived,
)
from binhchon_kit.events import Actor, Cause, RecordedEvent
from binhchon_kit.eventstore import ConcurrencyConflict
from binhchon_kit.folding import replay
from binhchon_kit.paging import Page
from binhchon_kit.personal import open_fields, seal_fields
from intake.domain import samples
from intake.domain.errors import Refused
from intake.service import Intake, data_subject

CODES = "selection_codes"
# how long a selection-code claim waits for its acceptance before another dossier may take it over (the acceptance
# follows the claim by milliseconds; a claim older than this, with no acceptance holding it, was left by a crash)
CLAIM_LEASE = timedelta(minutes=2)
CUSTODY = "samples"
# what a closed round no longer does with samples: take them in, move them, use them up. Handing them back and
# recording why some are kept stay open after the close: they are how the round's custody ends (ADR 0046).
NOT_AFTER_CLOSE = (SamplesReceived, SamplesMoved, SamplesConsumed)
# the list's key: selection code, then dossier id (intake.domain.samples.page_key)
LIST_KEY = re.compile(r"^[A-Za-z0-9._-]{1,40}\|dossier-[0-9a-f-]{36}$")


def claim_key(round_id: str, code: str) -> str:
    return f"{round_id}|{code.upper()}"


class SampleCustody:
    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.rt = intake.rt
        self.db = intake.rt.db

    async def setup(self) -> None:
        for keys in (["round_id", "page_key"], ["round_page_key"], ["round_id", "held_total"]):
            await self.db[CUSTODY].create_index([(k, ASCENDING) for k in keys])

    # ---- selection codes ---------------------------------------------------------------------------------

    async def claim_code(self, round_id: str, code: str | None, dossier_id: str, receipt_number: str) -> str:
        """The dossier's selection code, unique in its round: the one given (refused if it spells the receipt
        number, or another dossier of the round has it), else one drawn at random. The claim is a document keyed
        by round and code, so two acceptances racing for one code cannot both have it. A claim whose acceptance
        never came (refused after claiming releases it; a crash between leaves it) is taken over once it is older
        than ``CLAIM_LEASE`` and its dossier's events hold no acceptance with the code."""
        if code is not None and samples.guessable(code, receipt_number):
            raise Refused(f"selection code {code} gives away the receipt number {receipt_number}: leave it out to "
                          "have one drawn at random", kind="invalid", field="sample_code")
        for _ in range(20):
            wanted = code or samples.new_selection_code()
            key = claim_key(round_id, wanted)
            try:
                await self.db[CODES].insert_one({"_id": key, "dossier_id": dossier_id,
                                                 "claimed_at": self.intake.now()})
                return wanted
            except DuplicateKeyError:
                held = await self.db[CODES].find_one({"_id": key})
                if held is not None and held["dossier_id"] == dossier_id:
                    return wanted  # this dossier's own claim (an acceptance tried again)
                if held is None:
                    continue  # released meanwhile: claim it again
                if await self._taken_over(held, wanted, dossier_id):
                    return wanted
                if code is not None:
                    raise Refused(f"selection code {code} is already another dossier's in this round",
                                  reason="selection_code_taken") from None
        raise Refused("no free selection code was drawn: try again")  # pragma: no cover (28 million codes)

    async def _taken_over(self, held: dict[str, Any], code: str, dossier_id: str) -> bool:
        """Take ``held`` over for ``dossier_id`` if it is stale and no acceptance of its dossier holds ``code``.
        The update is conditional on the claim as read: of two takers, one wins."""
        claimed_at = held.get("claimed_at")  # claims made before the lease have none: their acceptance is long over
        if claimed_at is not None and claimed_at.replace(tzinfo=UTC) > self.intake.now() - CLAIM_LEASE:
            return False  # its acceptance may be on its way
        if await self.accepted_with(held["dossier_id"], code):
            return False
        taken = await self.db[CODES].update_one(
            {"_id": held["_id"], "dossier_id": held["dossier_id"], "claimed_at": claimed_at},
            {"$set": {"dossier_id": dossier_id, "claimed_at": self.intake.now()}})
        return taken.modified_count == 1

    async def accepted_with(self, dossier_id: str, code: str) -> bool:
        """Whether the dossier's events record its acceptance with ``code`` (the labels carry it from then on,
        whatever happens to the dossier after)."""
        events = await self.rt.store.read_stream(dossier_id) if dossier_id.startswith("dossier-") else []
        return any(isinstance(m := e.model(), DossierAccepted) and m.sample_code.upper() == code.upper()
                   for e in events)

    async def release_code(self, round_id: str, code: str, dossier_id: str) -> None:
        """The acceptance that claimed ``code`` for the dossier failed: the code goes back to the round, unless an
        acceptance of the dossier with it was recorded meanwhile (a concurrent retry that won)."""
        if not await self.accepted_with(dossier_id, code):
            await self.db[CODES].delete_one({"_id": claim_key(round_id, code), "dossier_id": dossier_id})

    async def rebuild_claims(self) -> int:
        """The claims written again from the events (``dossier.accepted``, through the dossiers' read model): a
        store restored from its topic (ADR 0047) has the acceptances but not the claims."""
        claimed = 0
        async for doc in self.db["dossiers"].find({"classification.sample_code": {"$exists": True}},
                                                  {"round_id": 1, "classification": 1}):
            code = doc["classification"]["sample_code"]
            if not code:
                continue
            await self.db[CODES].replace_one({"_id": claim_key(doc["round_id"], code)},
                                             {"dossier_id": doc["_id"], "claimed_at": self.intake.now()}, upsert=True)
            claimed += 1
        return claimed

    # ---- custody -----------------------------------------------------------------------------------------

    async def load(self, dossier_id: str) -> tuple[samples.Custody | None, list[RecordedEvent]]:
        events = await self.rt.store.read_stream(samples.stream_for(dossier_id)) \
            if dossier_id.startswith("dossier-") else []
        return replay(samples.evolve, events), events

    async def act(self, dossier_id: str, decide: Callable[[samples.Custody | None], EventData], actor: Actor,
                  cause: Cause) -> RecordedEvent:
        """Load, decide, append; on a concurrent change (two officers at one shelf), decide again once on the new
        counts, so the refusal of a count gone negative is made on what is really held. The producer's people
        named in the event are sealed with the producer's key first (ADR 0035)."""
        for attempt in (1, 2):
            state, history = await self.load(dossier_id)
            event_id = str(uuid.uuid4())
            decided = decide(state)
            if isinstance(decided, NOT_AFTER_CLOSE):
                await self._round_still_open(decided.round_id)
            event = await self._sealed(dossier_id, decided, event_id)
            try:
                return await record(self.rt, samples.stream_for(dossier_id), state.version if state else 0, event,
                                    actor, cause, dossier_id, event_id=event_id, history=history)
            except ConcurrencyConflict:
                if attempt == 2:
                    raise
                await asyncio.sleep(0)
        raise AssertionError("unreachable")

    async def _round_still_open(self, round_id: str) -> None:
        if await self.intake.round_closed(round_id):
            round_ = await self.intake.load_round(round_id)
            raise Refused(f"round {round_.code} is closed: its samples are no longer taken in, moved or used up; "
                          "hand them back to the producer, or record why they are kept",
                          current_status="closed", round_id=round_id, round_status="closed")

    async def _sealed(self, dossier_id: str, event: EventData, event_id: str) -> EventData:
        paths = SEALED_FIELDS.get(type_of(type(event)), ())
        if not paths:
            return event
        dossier, _ = await self.intake.load_dossier(dossier_id)
        number = await self.intake.registration_number(dossier)  # a household's is sealed (ADR 0048)
        if number is None:
            raise Refused("the producer's personal data was erased: no one's name can be recorded for it",
                          kind="gone")
        kid, key = await self.intake.keys.for_subject(data_subject(number))
        sealed = seal_fields(event.model_dump(mode="json"), paths, key, kid, event_id=event_id)
        return type(event).model_validate(sealed)

    async def receive(self, dossier_id: str, fields: dict[str, Any], actor: Actor, cause: Cause) -> RecordedEvent:
        dossier, events = await self.intake.load_dossier(dossier_id)
        code = next((m.sample_code for e in reversed(events) if isinstance(m := e.model(), DossierAccepted)), None)
        return await self.act(dossier_id, lambda _: samples.receive(dossier, code, at=self.intake.now(), **fields),
                              actor, cause)

    async def announce_return(self, round_id: str, fields: dict[str, Any], actor: Actor, cause: Cause
                              ) -> list[RecordedEvent]:
        """Tell every producer whose samples the round still holds where and when to collect them: one
        ``samples.return_due`` per such dossier (notify mails it). A producer already told just this is not told
        again: a retried notice records nothing new."""
        await self.intake.load_round(round_id)
        told = []
        holding = [d["dossier_id"] async for d in self.db[CUSTODY].find(
            {"round_id": round_id, "held_total": {"$gt": 0}}, {"dossier_id": 1})]
        for dossier_id in holding:
            def decide(state: samples.Custody | None) -> EventData:
                notice = samples.due_back(samples.custody_of(state), at=self.intake.now(), **fields)
                if notice is None:
                    raise Refused("handed back meanwhile, or told just this already")
                return notice
            try:
                told.append(await self.act(dossier_id, decide, actor, cause))
            except Refused:
                continue
        return told

    async def close_round(self, round_id: str, note: str, actor: Actor, cause: Cause) -> RecordedEvent:
        """Close the round: refused (409) while a dossier holds samples with no reason recorded for keeping them,
        naming each; the samples kept with a reason are listed in ``round.closed``."""
        await self.intake.load_round(round_id)
        if await self.intake.round_closed(round_id):
            raise Refused("the round is already closed", current_status="closed")
        held = [d async for d in self.db[CUSTODY].find({"round_id": round_id, "held_total": {"$gt": 0}},
                                                       sort=[("page_key", ASCENDING)])]
        if pending := samples.unreturned(held):
            raise Refused(
                f"the round cannot close: {len(pending)} dossier(s) still hold samples not handed back, with no "
                "reason recorded for keeping them (return them, or record why they are kept)",
                reason="samples_held", dossiers=[{k: d[k] for k in ("dossier_id", "selection_code", "product_name",
                                                                    "held_total", "held")} for d in pending])
        kept = [RetainedSamples(dossier_id=d["dossier_id"], selection_code=d["selection_code"], held=d["held_total"],
                                reason_code=d["retained"]["reason_code"], reason=d["retained"]["reason"])
                for d in held]
        closed = RoundClosed(round_id=round_id, closed_at=self.intake.now(), retained=kept, note=note)
        try:  # right after round.opened, or not at all: the store's unique key lets one closing in, ever
            return await record(self.rt, round_id, 1, closed, actor, cause, subject=round_id)
        except ConcurrencyConflict:
            raise Refused("the round is already closed", current_status="closed") from None

    # ---- reads -------------------------------------------------------------------------------------------

    async def custody(self, dossier_id: str) -> dict[str, Any]:
        doc = await self.db[CUSTODY].find_one({"_id": samples.stream_for(dossier_id)}) \
            if dossier_id.startswith("dossier-") else None
        if doc is None:
            raise Refused(f"no sample of dossier {dossier_id} was received", kind="not_found")
        history = [await self.shown(step) for step in doc["history"]]
        return {**paging.strip(doc, "round_page_key", "version"), "history": history}

    async def shown(self, step: dict[str, Any]) -> dict[str, Any]:
        """A custody step (its event's data beside ``event_id``) as whoever may read it sees it: the producer's
        people named in it opened, or erased (ADR 0035). The history and the answer to the command that recorded
        the step alike: no answer shows them sealed."""
        return await open_fields(step, step["event_id"], self.intake.keys.key)

    async def round_list(self, round_id: str, *, applicant_id: str | None, after: str | None, limit: int) -> Page:
        """Where every sample of the round is, per dossier, in selection-code order, page by page (ADR 0015): the
        walk is over the round's own keys (``round_page_key``). An applicant's: their own dossiers' only."""
        await self.intake.load_round(round_id)

        def show(doc: dict[str, Any]) -> dict[str, Any]:
            return paging.strip(doc, "round_page_key", "version", "history")

        if applicant_id is not None:  # a producer has a handful of dossiers in a round: one page of them
            mine = [d["_id"] async for d in self.db["dossiers"].find(
                {"applicant_id": applicant_id, "round_id": round_id}, {"_id": 1})]
            docs = [show(d) async for d in self.db[CUSTODY].find(
                {"_id": {"$in": [samples.stream_for(i) for i in mine]}}, sort=[("page_key", ASCENDING)])]
            return Page(docs, limit, None, None)
        return await paging.page(self.db[CUSTODY], equals={"round_id": round_id}, key="round_page_key",
                                 prefix=f"{round_id}|", after=paging.cursor_key(after, LIST_KEY),
                                 limit=limit, show=show)
