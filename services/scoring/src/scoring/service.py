"""Scoring's command and query handlers over the event store; HTTP routes and Kafka handlers call these."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo.errors import DuplicateKeyError

from binhchon_kit.auth import Principal, Role
from binhchon_kit.commands import record
from binhchon_kit.contracts.common import DecisionReference, Level
from binhchon_kit.contracts.intake import ApprovingAuthority, RoundOpened
from binhchon_kit.contracts.registry import EventData, type_of
from binhchon_kit.contracts.scoring import (
    JudgeRecused,
    PanelFormed,
    PanelMember,
    ProposalRow,
    ResultProposed,
    ScoreAmended,
    ScoreSubmitted,
    ScoringCancelled,
)
from binhchon_kit.errors import NotYetHeard, UnderWay
from binhchon_kit.events import Actor, Cause, RecordedEvent, deterministic_id
from binhchon_kit.eventstore import ConcurrencyConflict
from binhchon_kit.folding import replay
from binhchon_kit.personal_keys import CopiesOpener
from binhchon_kit.runtime import Runtime, log_signer
from scoring import views
from scoring.adapters.rulebooks import Rulebooks
from scoring.adapters.sealing import SealingKeys
from scoring.awaited import AwaitedDecisions
from scoring.decision_leases import DecisionLeases, Held, Recording
from scoring.domain import panel as panels
from scoring.domain import scoring
from scoring.domain.authority import DecisionInput, authority_decision
from scoring.domain.errors import Refused
from scoring.domain.rulebook import Rulebook
from scoring.domain.scoring import scoring_stream
from scoring.domain.sealing import DossierKey
from scoring.recent import RecentStreams

log = logging.getLogger("binhchon.scoring")

class RulebookVersionMissing(Exception):
    """A round is pinned to a rulebook version this replica has not loaded: retry (elsewhere, or after its
    deploy), never refuse the dossier for it."""


def panel_stream(round_id: str) -> str:
    return "panel-" + deterministic_id("panel", round_id)


class Scoring:
    """``round_wait``: how long forming a panel waits for the round's ``round.opened`` to arrive from intake
    (another service's topic: a panel formed right after its round may be a moment ahead of it). ``sealing``:
    the master keys the dossiers' sealing keys derive from (ADR 0036; default: derived from the log key)."""

    def __init__(self, runtime: Runtime, rulebooks: Rulebooks, round_wait: float = 10.0,
                 sealing: SealingKeys | None = None, shown: CopiesOpener | None = None) -> None:
        self.rt = runtime
        self.store = runtime.store
        self.rulebooks = rulebooks
        self.round_wait = round_wait
        self.sealing = sealing or SealingKeys.from_settings("", "", log_signer(runtime.settings))
        self._panels: dict[str, PanelFormed] = {}
        self.recent = RecentStreams()  # what a judge's next command is decided on, checked by the append (recent.py)
        self.awaited = AwaitedDecisions(runtime.db, self.approving_authority)  # the approvers' start list
        self.leases = DecisionLeases(runtime.db, runtime.clock)  # one decision at a time on a proposal
        # a household's name and registration number, carried sealed (ADR 0048), opened for those who read them
        self.shown = shown or CopiesOpener(None)

    async def setup(self) -> None:
        await self.awaited.setup()
        # what a crash between a proposal (or a decision) and its recomputation left
        fields = ResultProposed.model_fields
        await self.awaited.repair(
            (ResultProposed.model_validate({k: v for k, v in doc.items() if k in fields}), doc["recorded_at"])
            async for doc in self.rt.db["proposals"].find({}))


    def rulebook(self, rulebook_id: str, version: int | None = None) -> Rulebook:
        book = self.rulebooks.get(rulebook_id, version) if version else self.rulebooks.current(rulebook_id)
        if book is None:
            raise Refused(f"no rulebook {rulebook_id}" + (f" version {version}" if version else ""),
                          kind="not_found")
        return book

    # ---- what scoring learns from intake -------------------------------------------------------------

    async def on_round_opened(self, event: RecordedEvent) -> None:
        data = {k: v for k, v in event.data.items() if k not in ("_id", "rulebook_version")}
        await self.rt.db["rounds"].update_one({"_id": event.data["round_id"]}, {"$set": data}, upsert=True)
        await self.pinned_version(event.data["round_id"], event.data["rulebook_id"])

    async def pinned_version(self, round_id: str, rulebook_id: str) -> int | None:
        """The rulebook version the round is scored under, pinned on first use (None: no such rulebook).

        A version published while a round runs must not score its later dossiers differently from its earlier
        ones. The pin is a document of its own in ``round_pins``, written once by an insert keyed by the round:
        the one write the store makes atomic (a conditional update is not on FerretDB: two replicas both matched
        the "no version yet" filter and pinned different versions), so replicas that race, even with different
        rulebook files loaded, all read back the one that won; and rebuilding ``rounds`` leaves it alone.

        A round without a pin takes, in order: the version the earlier code kept on its ``rounds`` document;
        the version its first dossier opened under, if one did (a round stored before versions were pinned);
        else the current one."""
        pins = self.rt.db["round_pins"]
        if (pin := await pins.find_one({"_id": round_id})) is not None:
            return int(pin["rulebook_version"])
        round_ = await self.rt.db["rounds"].find_one({"_id": round_id}) or {}
        version = round_.get("rulebook_version")
        if version is None:
            version = await self._first_opened_version(round_id)
        if version is None:
            current = self.rulebooks.current(rulebook_id)
            if current is None:
                return None
            version = current.version
        try:
            await pins.insert_one({"_id": round_id, "rulebook_id": rulebook_id, "rulebook_version": version})
        except DuplicateKeyError:
            pass  # another replica pinned it first: read theirs
        pin = await pins.find_one({"_id": round_id})
        assert pin is not None
        return int(pin["rulebook_version"])

    async def _first_opened_version(self, round_id: str) -> int | None:
        """The version the round's first opened dossier was scored under, from scoring's read model of the
        round's dossiers (it runs once per round, when the round has no pinned version: one written before pins
        were kept). A document folded before ``opened_at`` was kept counts as earliest."""
        opened = [d for d in await views.of_round(self.rt.db, round_id)
                  if d.get("status") != scoring.NOT_OPENED and d.get("rulebook_version") is not None]
        if not opened:
            return None
        first = min(opened, key=lambda d: (d.get("opened_at") is not None, d.get("opened_at") or 0, d["dossier_id"]))
        return int(first["rulebook_version"])

    async def on_dossier_accepted(self, event: RecordedEvent) -> None:
        """Open the dossier for scoring under its round's pinned rulebook version; a dossier that cannot be
        opened (its round's level, its product group or programme not in the rulebook) is recorded as
        ``scoring.not_opened`` with the reason, on the same stream, where the secretariat sees it."""
        dossier_id = event.subject
        version = await self.pinned_version(event.data["round_id"], event.data["rulebook_id"])
        decided: EventData
        if version is not None and self.rulebooks.get(event.data["rulebook_id"], version) is None:
            # pinned by a replica with newer rulebook files (a rolling deploy): not a refusal of the dossier;
            # the consumer retries, and a replica that has the version opens it
            raise RulebookVersionMissing(f"round {event.data['round_id']} is scored under rulebook "
                                         f"{event.data['rulebook_id']} v{version}, which this replica has not "
                                         "loaded (deploy its file)")
        try:
            rulebook = self.rulebook(event.data["rulebook_id"], version)
            decided = scoring.open_scoring(event.data, dossier_id, rulebook)
        except Refused as refused:
            decided = scoring.not_opened(event.data, dossier_id, version, refused)
        try:
            # the id derives from the type name on the wire, so a redelivery (opened or not) collides
            first = await record(self.rt, scoring_stream(dossier_id), 0, decided, Actor.system("scoring"),
                                 Cause.of(event), dossier_id,
                                 event_id=deterministic_id(type_of(type(decided)), event.id))
        except ConcurrencyConflict:
            return  # already opened, or refused (a redelivery)
        self.recent.keep(scoring_stream(dossier_id), [first])

    async def on_dossier_withdrawn(self, event: RecordedEvent) -> None:
        events = await self.store.read_stream(scoring_stream(event.subject))
        state = replay(scoring.evolve, events)
        if state is None:
            return  # withdrawn before acceptance: scoring never opened it
        cancelled = scoring.cancel(state, event.data.get("reason", ""))
        if cancelled is None:
            return
        try:
            await record(self.rt, scoring_stream(event.subject), state.version, cancelled, Actor.system("scoring"),
                         Cause.of(event), event.subject,
                         event_id=deterministic_id(type_of(ScoringCancelled), event.id), history=events)
        except ConcurrencyConflict:
            raise  # a sheet arrived meanwhile: the consumer retries on the new state

    # ---- panels --------------------------------------------------------------------------------------

    async def round_rulebook(self, round_id: str) -> tuple[dict[str, Any], Rulebook]:
        """The round as scoring heard of it, and the rulebook version it is scored under."""
        round_ = await self._heard_round(round_id)
        if round_ is None:
            raise Refused(f"scoring has not heard of round {round_id} (its round.opened has not arrived from "
                          "intake); open the round first, or try again in a moment", round_id=round_id)
        version = await self.pinned_version(round_id, round_["rulebook_id"])
        return round_, self.rulebook(round_["rulebook_id"], version)

    async def form_panel(self, round_id: str, fields: dict[str, Any], actor: Actor, cause: Cause) -> RecordedEvent:
        """Form the round's panel. Its sessions must hold every session its rulebook scores a criterion in; a
        panel that names none holds exactly those. A round at a level its rulebook does not have is refused
        here, before any dossier of it reaches scoring."""
        stream = panel_stream(round_id)
        round_, rulebook = await self.round_rulebook(round_id)
        if (refused := scoring.level_refusal(rulebook, Level(round_["level"]))) is not None:
            raise Refused(refused.message, kind="invalid", round_id=round_id, **refused.detail)
        if not fields.get("sessions"):
            fields = {**fields, "sessions": [s.value for s in panels.default_sessions(rulebook)]}
        panel = panels.validate_panel(PanelFormed.model_validate({**fields, "round_id": round_id,
                                                                  "panel_id": stream}), rulebook)
        try:
            return await record(self.rt, stream, 0, panel, actor, cause, round_id)
        except ConcurrencyConflict:
            raise Refused(f"round {round_id} already has a panel", panel_id=stream) from None

    async def panel(self, round_id: str) -> PanelFormed:
        # panel.formed is the panel's only event: once read, it is kept
        if (cached := self._panels.get(round_id)) is not None:
            return cached
        first = await self.store.get(panel_stream(round_id), 1)
        if first is None:
            raise Refused(f"round {round_id} has no panel yet", kind="not_found")
        self._panels[round_id] = panel = PanelFormed.model_validate(first.data)
        return panel

    async def on_round_panel(self, round_id: str, subject: str) -> bool:
        """Whether ``subject`` sits on the round's panel (false when it has none): who may read the round's
        scoring as a judge or its chair."""
        try:
            panel = await self.panel(round_id)
        except Refused:
            return False
        return any(member.id == subject for member in panel.members)

    async def on_dossier_panel(self, dossier_id: str, subject: str) -> bool:
        """Whether ``subject`` sits on the panel that scores the dossier (its round's, with the dossier's
        substitutes). A dossier scoring could not open (``scoring.not_opened``) is its round's panel's to be told
        why; one scoring never heard of is nobody's.

        Every judge's command asks this before the command loads the dossier itself, so the usual answer comes
        from the dossier's round (as this process last saw its stream, else its read model) and the cached panel;
        only a member not on the round's panel (a
        substitute of this dossier) or a read model not written yet costs a read of the stream."""
        known = self.recent.get(scoring_stream(dossier_id))  # a dossier's round never changes: its first event's
        round_id = known[0].data.get("round_id") if known else None
        if not round_id:
            doc = await self.rt.db["scoring"].find_one({"_id": scoring_stream(dossier_id)}, projection={"round_id": 1})
            round_id = doc.get("round_id") if doc is not None else None
        if round_id:
            try:
                if any(member.id == subject for member in (await self.panel(round_id)).members):
                    return True
            except Refused:
                return False
        events = await self.store.read_stream(scoring_stream(dossier_id))
        state = replay(scoring.evolve, events) if events else None
        round_id = state.opened.round_id if state is not None else events[0].data.get("round_id") if events else None
        if round_id is None:
            return False
        try:
            panel = await self.panel(round_id)
        except Refused:
            return False
        if state is not None:
            panel = state.panel(panel)
        return any(member.id == subject for member in panel.members)

    async def substitute_member(self, dossier_id: str, substitute: PanelMember, replaces: str, reason: str,
                                who: Principal, cause: Cause) -> RecordedEvent:
        """The chair of the dossier's round (or the secretariat) adds a substitute for a recused member."""
        state, _ = await self.load(dossier_id)
        panel = await self.panel(state.opened.round_id)
        if not who.has(Role.SECRETARIAT):
            if panels.chair(panel).id != who.subject:
                raise Refused("only the chair of this round's panel or the secretariat adds a substitute member",
                              kind="forbidden")
            if who.subject in state.recused:
                # a chair with a conflict of interest in this dossier must not choose who scores it instead
                raise Refused("the chair is recused from this dossier: the secretariat adds its substitute "
                              "members", kind="forbidden", recused=sorted(state.recused))
        return await self.act(dossier_id, lambda s, p, _r, _k: scoring.substitute(s, p, substitute, replaces, reason),
                              who.actor, cause)

    # ---- dossiers ------------------------------------------------------------------------------------

    def dossier_key(self, state: scoring.DossierScoring) -> DossierKey:
        """The dossier's sealing key: under the master key its sheets are sealed with, else the current one."""
        return self.sealing.dossier_key(state.dossier_id, state.sealing_kid())

    def unsealed(self, events: list[RecordedEvent]) -> scoring.DossierScoring | None:
        """The dossier folded from its events, its sheets' marks opened with scoring's own key."""
        state = replay(scoring.evolve, events)
        return None if state is None else scoring.unsealed(state, self.dossier_key(state))

    async def load(self, dossier_id: str) -> tuple[scoring.DossierScoring, list[RecordedEvent]]:
        """The dossier as its commands see it: every sheet's marks unsealed."""
        events = await self.store.read_stream(scoring_stream(dossier_id))
        self.recent.keep(scoring_stream(dossier_id), events)
        return self._opened(dossier_id, events), events

    def _opened(self, dossier_id: str, events: list[RecordedEvent]) -> scoring.DossierScoring:
        state = self.unsealed(events)
        if state is None:
            if events:  # scoring.not_opened: say why
                data = events[0].data
                raise Refused(f"dossier {dossier_id} could not be opened for scoring ({data['reason_code']})",
                              reason_code=data["reason_code"], reason_params=data["reason_params"],
                              current_status=scoring.NOT_OPENED)
            raise Refused(f"dossier {dossier_id} is not open for scoring", kind="not_found")
        return state

    async def act(self, dossier_id: str,
                  decide: Callable[[scoring.DossierScoring, PanelFormed, Rulebook, DossierKey], EventData],
                  actor: Actor, cause: Cause) -> RecordedEvent:
        """Decide and record; then let the rules decide whether scoring completes or goes back.

        First on the stream as this process last saw it, if it did (``recent``): a stale one loses the append's
        optimistic check, or was refused; either way the command is decided again on the stream read afresh,
        with the one retry on a conflict it always had."""
        stream = scoring_stream(dossier_id)
        remembered = self.recent.get(stream)
        fresh_tries = 0
        while True:
            fresh = remembered is None
            if remembered is None:
                history = await self.store.read_stream(stream)
                self.recent.keep(stream, history)
                fresh_tries += 1
            else:
                history, remembered = remembered, None
            try:
                state = self._opened(dossier_id, history)
                panel = await self.panel(state.opened.round_id)
                rulebook = self.rulebook(state.opened.rulebook_id, state.opened.rulebook_version)
                decided = decide(state, panel, rulebook, self.dossier_key(state))
            except Refused:
                if fresh:
                    raise
                continue  # perhaps refused on what has changed since: asked again on the record
            try:
                recorded = await record(self.rt, stream, state.version, decided, actor, cause, dossier_id,
                                        history=history)
            except ConcurrencyConflict:
                self.recent.forget(stream)
                if fresh_tries == 2:
                    raise
                continue
            self.recent.keep(stream, [*history, recorded])
            if isinstance(decided, ScoreSubmitted | ScoreAmended | JudgeRecused):  # what may settle the scoring
                await self.evaluate(dossier_id, Cause.of(recorded), closing=False, known=[*history, recorded])
            return recorded

    async def evaluate(self, dossier_id: str, cause: Cause, *, closing: bool, actor: Actor | None = None,
                       known: list[RecordedEvent] | None = None) -> RecordedEvent | None:
        """Complete or send back for re-scoring when the rules say so. ``known``: the stream as the caller just
        wrote it (a concurrent writer makes the append below conflict, and its own evaluation decides)."""
        if known is not None:
            history = known
            state = self.unsealed(history)
            assert state is not None
        else:
            state, history = await self.load(dossier_id)
        panel = await self.panel(state.opened.round_id)
        rulebook = self.rulebook(state.opened.rulebook_id, state.opened.rulebook_version)
        outcome = scoring.evaluate(state, panel, rulebook, closing=closing, key=self.dossier_key(state))
        if outcome is None:
            return None
        try:
            recorded = await record(self.rt, scoring_stream(dossier_id), state.version, outcome,
                                    actor or Actor.system("scoring"), cause, dossier_id, history=history)
        except ConcurrencyConflict:
            self.recent.forget(scoring_stream(dossier_id))
            return None  # another sheet arrived meanwhile; its own evaluation decides
        self.recent.keep(scoring_stream(dossier_id), [*history, recorded])
        return recorded

    # ---- council and authority -----------------------------------------------------------------------

    async def propose(self, round_id: str, actor: Actor, cause: Cause) -> RecordedEvent:
        panel = await self.panel(round_id)
        if panels.chair(panel).id != actor.id:
            raise Refused("only the council chair proposes the results", kind="forbidden")
        docs = await views.awaiting_decision(self.rt.db, round_id)
        if not docs:
            raise Refused(f"no dossier of round {round_id} has completed scoring and awaits a decision")
        docs.sort(key=lambda d: (-d["result"]["average_total"], d["product_name"]))
        rows = [ProposalRow(rank=n, dossier_id=d["dossier_id"], product_name=d["product_name"],
                            producer_name=d["producer_name"], average_total=d["result"]["average_total"],
                            rating_label=d["result"]["rating_label"], stars=d["result"]["stars"],
                            passed=d["result"]["passed"], recognised_at_level=d["result"]["recognised_at_level"],
                            goes_up_a_level=d["result"]["goes_up_a_level"])
                for n, d in enumerate(docs, start=1)]
        stream = "proposal-" + str(uuid.uuid4())
        proposal = ResultProposed(proposal_id=stream, round_id=round_id, rows=rows)
        recorded = await record(self.rt, stream, 0, proposal, actor, cause, round_id)
        await self.awaited.refresh(proposal, recorded.time)
        return recorded

    async def proposal(self, proposal_id: str) -> ResultProposed:
        first = await self.store.get(proposal_id, 1) if proposal_id.startswith("proposal-") else None
        if first is None:
            raise Refused(f"no proposal {proposal_id}", kind="not_found")
        return ResultProposed.model_validate(first.data)

    async def _heard_round(self, round_id: str) -> dict[str, Any] | None:
        """The round as scoring heard of it from intake's ``round.opened``, waiting ``round_wait`` for it to
        arrive (None if it has not): a command may come just before its round's event does, or while the consumer
        catches up after a restore from the topic (ADR 0047)."""
        deadline = time.monotonic() + self.round_wait
        # a document without the round's fields was pinned by a dossier that came before its round.opened
        while (round_ := await self.rt.db["rounds"].find_one({"_id": round_id})) is None or "level" not in round_:
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.2)
        return round_

    async def deciding_authority(self, round_id: str) -> ApprovingAuthority:
        """The authority that decides a proposal's round, for an approver about to act on it: a proposal's round
        exists, so a round scoring has not heard of yet is intake's event still on its way (503), never a refusal
        of the approver (403)."""
        if await self._heard_round(round_id) is None:
            raise NotYetHeard(f"scoring has not yet heard of round {round_id} from intake", dependency="intake")
        return await self.approving_authority(round_id)

    async def approving_authority(self, round_id: str) -> ApprovingAuthority:
        """The authority that decides the round's results, as its round.opened names it (a round opened before
        v3 reads with the authority over its area, named by its organiser)."""
        round_ = await self.rt.db["rounds"].find_one({"_id": round_id})
        if round_ is None or "level" not in round_:
            raise Refused(f"scoring has not heard of round {round_id} (its round.opened has not arrived from "
                          "intake)", round_id=round_id)
        fields = {k: v for k, v in round_.items() if k in RoundOpened.model_fields}
        return RoundOpened.model_validate(fields).approving_authority

    async def approve(self, proposal_id: str, decision: DecisionInput, dossier_ids: list[str] | None,
                      who: Principal, cause: Cause) -> list[RecordedEvent]:
        """The round's approving authority decides: only an approver acting for it (ADR 0029)."""
        proposal = await self.proposal(proposal_id)
        made = authority_decision(await self.approving_authority(proposal.round_id), who.authorities, decision)
        return await self._record_decision(proposal, made, dossier_ids, who.actor, cause)

    async def _record_decision(self, proposal: ResultProposed, decision: DecisionReference,
                              dossier_ids: list[str] | None, actor: Actor, cause: Cause) -> list[RecordedEvent]:
        proposal_id = proposal.proposal_id
        listed = {row.dossier_id for row in proposal.rows}
        chosen = dossier_ids or [row.dossier_id for row in proposal.rows]
        if unknown := [d for d in chosen if d not in listed]:
            raise Refused("these dossiers are not in the proposal", kind="invalid", dossier_ids=unknown)
        # One decision at a time on a proposal (ADR 0013's claim, a lease so a crash frees it): two approvers
        # deciding at once could otherwise each record part of its dossiers, splitting it between two decisions.
        recording = Recording(proposal_id, decision, tuple(chosen), actor, cause)
        return await self._carry_out(proposal, recording, await self.leases.take(recording))

    async def _carry_out(self, proposal: ResultProposed, recording: Recording,
                         lease: dict[str, Any]) -> list[RecordedEvent]:
        """The decision recorded under its lease, released once done or refused. A failure part way (the store
        gone, a race lost) keeps it: the decision is unfinished, and whoever takes the lapsed lease over finishes
        it (``finish_left_decisions``, or the same approval asked again), as after a crash. The lease is renewed
        while the decision is recorded; found taken over, the recording stops (``UnderWay``) and writes nothing
        more: the process that took it finishes the decision."""
        held = Held(self.leases, lease)
        settled = False
        try:
            decided = await self._decide_each(recording.proposal_id, list(recording.dossier_ids), recording.decision,
                                              recording.actor, recording.cause, held.keep)
            settled = True
            return decided
        except Refused:
            settled = True  # refused before anything was written
            raise
        finally:
            if settled:
                await self._refresh_awaited(proposal)  # within the lease: no other recomputation crosses it
                await self.leases.release(held.doc)

    async def finish_left_decisions(self) -> int:
        """Finish the decisions a crash left part way: a proposal still awaited whose lease lapsed unreleased is
        taken over and its decision recorded on the dossiers it chose that are not decided yet, as its approver
        asked (their actor and cause; the events' ids are the ones the holder would have written). Run at start-up
        and every ``decision_repair_seconds`` by each replica (one takes a lease over). Returns how many."""
        done = 0
        for row in await self.awaited.listed():
            left = await self.leases.left_by_crash(row["_id"])
            recording = Recording.of(left) if left is not None else None
            if left is None or recording is None or (lease := await self.leases.take_over(left)) is None:
                continue
            log.warning("finishing decision %s on %s, left part way by its holder", recording.decision.number,
                        recording.proposal_id)
            try:
                await self._carry_out(await self.proposal(recording.proposal_id), recording, lease)
            except (Refused, UnderWay) as stopped:  # UnderWay: stalled past the lease, another replica took it
                log.warning("decision %s on %s cannot be finished here: %s", recording.decision.number,
                            recording.proposal_id, stopped.message)
            done += 1
        return done

    async def _refresh_awaited(self, decided: ResultProposed) -> None:
        """The decided proposal, and the round's others still listed (they may hold the dossiers just decided),
        recomputed in the approvers' list. A failure here leaves the decision recorded (it is): the list is put
        right at the next decision on the round or the next start."""
        try:
            others = [row["_id"] for row in await self.awaited.of_round(decided.round_id)]
            for proposal_id in dict.fromkeys([decided.proposal_id, *others]):
                first = await self.store.get(proposal_id, 1)
                if first is not None:
                    await self.awaited.refresh(ResultProposed.model_validate(first.data), first.time)
        except Exception:
            log.warning("the approvers' list was not recomputed after a decision on %s", decided.proposal_id,
                        exc_info=True)

    async def _decide_each(self, proposal_id: str, chosen: list[str], decision: DecisionReference, actor: Actor,
                           cause: Cause, keep: Callable[[], Awaitable[None]]) -> list[RecordedEvent]:
        """Each chosen dossier decided, ``keep`` (the lease renewed, or the recording stopped) before each write."""
        loaded = [(dossier_id, *await self.load(dossier_id)) for dossier_id in chosen]
        wanted = decision.model_dump(mode="json")
        # checked for every dossier before any is written: a conflict leaves the proposal as it was
        for dossier_id, state, _ in loaded:
            if state.decision is None:
                continue
            taken = DecisionReference.model_validate(state.decision["decision"]).model_dump(mode="json")
            if taken != wanted:
                raise Refused(f"dossier {dossier_id} is decided already, by another decision",
                              dossier_id=dossier_id, decision=taken)
        recorded = []
        for dossier_id, state, history in loaded:
            if state.status in (scoring.APPROVED, scoring.NOT_RECOGNISED):
                continue  # decided already by this decision (a repeated approval of the same proposal)
            rulebook = self.rulebook(state.opened.rulebook_id, state.opened.rulebook_version)
            outcome = scoring.decide(state, decision, rulebook)
            await keep()
            recorded.append(await record(self.rt,
                scoring_stream(dossier_id), state.version, outcome, actor, cause, dossier_id,
                event_id=deterministic_id("decision", proposal_id, dossier_id), history=history))
        return recorded
