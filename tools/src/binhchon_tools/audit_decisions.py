"""Every decision recomputed from the log: each ``scoring.completed`` from its score sheets and the rulebook
version it names, each ``result.*`` from the completed result and the authority's decision, each certificate's
signature and its one-to-one match with a recognised result, each escalation with its approved result.

The recomputation is scoring's own pure domain code (``scoring.domain``: the fold, ``evaluate``, ``decide``)
and its rulebook loader: the audit replays what the service would have decided, it does not re-implement it.
A stream of the common shape is first recomputed more cheaply (``audit_recompute``, ADR 0042), which can only
confirm it; any other, and any the cheap path does not confirm, is replayed with scoring's code, which names
what is wrong.

Sheets are sealed on the topic until their dossier completes (ADR 0036): each ``scoring.completed`` reveals the
dossier's sealing key, which must be the one every sealed sheet and re-scoring of the stream committed to and must
open each of them; the audit recomputes from the sheets so opened. It holds no key of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Set
from concurrent.futures import Executor, Future
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.contracts.scoring import PanelFormed, SealedMarks
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.signing import verify_document
from binhchon_tools.audit_chain import Kept
from binhchon_tools.audit_findings import Discrepancy, Findings
from binhchon_tools.audit_hash import read_event, schema_version
from binhchon_tools.audit_recompute import compiled_decider, confirm_raws, confirm_stream
from scoring.adapters.rulebooks import Rulebooks
from scoring.domain.errors import Refused
from scoring.domain.rulebook import Rulebook
from scoring.domain.scoring import COMPLETED, DossierScoring, decide, evaluate, evolve, unsealed
from scoring.domain.sealing import DossierKey, Unsealable, rescore_context, unseal

SCORING_STREAM_TYPES = {
    "scoring.opened", "scoring.not_opened", "scoring.cancelled", "judge.recused", "panel.member_substituted",
    "score.submitted", "score.amended", "scoring.rescore_requested", "scoring.completed", "result.approved",
    "result.not_recognised",
}
# with the prizes' (ADR 0050): an award and its round's schedule, matched with results by audit_awards
KEPT_TYPES = SCORING_STREAM_TYPES | {"panel.formed", "certificate.issued", "dossier.received", "round.opened",
                                    "award.granted", "prize_schedule.set", "award.paid", "fee.owed", "fee.paid"}
RESULT_TYPES = ("result.approved", "result.not_recognised")
DECISION_TYPES = {"scoring.completed", *RESULT_TYPES}
STREAMS_PER_TASK = 400  # scoring streams a worker process checks per task
DECIDER_THREADS = 2  # the compiled decider's threads (its work holds no lock Python needs)
# (scoring.completed too: the members whose sheets counted are owed fees, one per dossier: a small share)
INDEXED = {*RESULT_TYPES, "panel.formed", "round.opened", "certificate.issued", "award.granted",
           "prize_schedule.set", "award.paid", "fee.owed", "fee.paid", "scoring.completed"}
WHOLE = frozenset({*INDEXED, "dossier.received"})  # the kept types the checks read parsed (the rest stay raw)
# the looked-up types the log's index always reads: the verify parses them as the compiled reader hands them on,
# while it reads on (``Log(parsed=...)``); the completions and receipts it reads only when asked are not among them
READ_AS_FETCHED = frozenset(INDEXED - {"scoring.completed"})


# What the cross-service checks read of each looked-up type's data without a default: a forged event (hashed and
# linked as any, by whoever can write to the topic) lacking one is named and left out of the lookups, rather than
# ending the verify with a KeyError (``shape_fault``). ``object``: present, of any type.
SHAPES: dict[str, dict[str, type]] = {
    "round.opened": {"round_id": str}, "panel.formed": {"round_id": str, "members": list, "sessions": list},
    "result.approved": {"dossier_id": str, "round_id": str, "rating": dict},
    "result.not_recognised": {"dossier_id": str, "round_id": str},
    "dossier.received": {"dossier_id": str, "round_id": str},
    "prize_schedule.set": {"round_id": str, "prizes": object, "fee_per_session": object},
    "award.granted": {"dossier_id": str},
}


def shape_fault(kind: str, event: dict[str, Any]) -> str | None:
    """Why a looked-up event cannot be read as the checks read its type (None: it can)."""
    data = event.get("data")
    if not isinstance(event.get("id"), str) or not isinstance(data, dict):
        return "no id, or data that is not an object"
    for name, wanted in SHAPES.get(kind, {}).items():
        if name not in data or not isinstance(data[name], wanted):
            return f"data.{name} missing or not a {wanted.__name__}"
    if kind == "result.approved" and not isinstance(data["rating"].get("recognised"), bool):
        return "data.rating.recognised missing or not a bool"
    if kind == "panel.formed" and not all(isinstance(m, dict) and isinstance(m.get("id"), str)
                                          and isinstance(m.get("role", ""), str) for m in data["members"]):
        return "a member of data.members without an id"
    origin = data.get("escalated_from")
    if kind == "dossier.received" and origin and not (
            isinstance(origin, dict) and all(isinstance(origin.get(k), str)
                                             for k in ("result_event_id", "dossier_id", "round_id"))):
        return "data.escalated_from without its result, dossier and round"
    if kind == "scoring.completed" and not isinstance(data.get("totals", {}), dict):
        return "data.totals not an object"
    return None


def not_escalated(raw: bytes) -> bool:
    """Whether a ``dossier.received``'s bytes show it escalated from nothing, without reading it: the only
    ``escalated_from`` they hold is a name given ``null`` (at whatever depth: where it is not ``data``'s own,
    ``data`` has none), and no backslash could spell that name otherwise or hide a quote. Escalated, unsure or
    written otherwise (spaces), it is read."""
    return raw.count(b"escalated_from") == 1 and b'"escalated_from":null' in raw and b"\\" not in raw


def recorded(event: dict[str, Any]) -> RecordedEvent:
    """A received CloudEvent as the domain's folds take it (``RecordedEvent.from_cloudevent`` without validating
    the envelope again: the chain check has read it)."""
    return RecordedEvent(
        id=event["id"], stream=event["streamid"], version=int(event["streamversion"]), type=event["type"],
        schema_version=schema_version(event), subject=event["subject"], time=datetime.fromisoformat(event["time"]),
        data=event["data"], actor=Actor(event["actorid"], tuple(r for r in event["actorroles"].split(",") if r)),
        correlation_id=event["correlationid"], causation_id=event["causationid"], source=event["source"],
        prev_hash=event["prevhash"], hash=event["hash"])


LookedUp = tuple[str, str, bytes, dict[str, Any] | None, bool]  # stream, type, raw, parsed or None, read exact


def differences(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    return [f"{k}: recorded {found.get(k)!r}, recomputed {expected.get(k)!r}"
            for k in sorted(set(expected) | set(found)) if expected.get(k) != found.get(k)]


class Log:
    """The kept events, indexed the ways the checks look them up (one copy of each stream version).

    Scoring streams stay raw JSON until their turn comes (``events``): a parsed event takes several times its
    bytes, and they are most of the log. What the cross-service checks look up is kept parsed: results,
    certificates, panels, rounds and escalated dossiers, a small share.

    A raw the chain check's ``read_json`` read exact (``Kept.exact``) is read again by ``orjson.loads`` alone: the
    same bytes take the same branch of ``read_json`` and give the same value, without its long-number search
    (a quarter of the read's time). ``exact``: the streams whose every kept raw is so.

    Built from the compiled chain check's records, it holds only the types the checks read whole (``WHOLE``):
    the streams holding decisions are then the compiled check's own (``start_decisions``), and ``streams``,
    ``decided`` and ``exact`` are not theirs."""

    def __init__(self, raws: Iterable[bytes | Kept], *, index: bool = True,
                 parsed: dict[bytes, dict[str, Any]] | None = None) -> None:
        """``index=False``: only the streams, their panels and what the decisions need (``index`` does the rest,
        e.g. while worker processes recompute the decisions). ``parsed``: raws read exact, already read by
        ``orjson.loads`` (by the verify while it read the topics, ``READ_AS_FETCHED``): each taken instead of
        reading the same bytes again, once."""
        self._parsed = parsed if parsed is not None else {}
        by_stream: dict[str, dict[int, bytes]] = defaultdict(dict)
        self.of_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # every dossier's receipt in the log's order: parsed, or its looked-up entry, read when ``received`` is asked
        self._receipts: list[tuple[LookedUp | None, dict[str, Any] | None]] = []
        self._received: dict[str, dict[str, Any]] | None = None
        self.decided: set[str] = set()  # the streams holding a decision to recompute
        self.malformed: list[tuple[str, str, str]] = []  # (stream, event id, why) of events left out of the lookups
        self._looked_up: list[LookedUp] = []  # indexed by ``index``
        inexact: set[str] = set()  # the streams holding a raw not known to be read exact
        for item in raws:
            if isinstance(item, bytes):
                event: dict[str, Any] | None = read_event(item)[0]
                assert event is not None
                stream, version, kind, raw = event["streamid"], int(event["streamversion"]), event["type"], item
                exact = False
            else:  # as the chain check's workers read it: parsed only if looked up below
                stream, version, kind, raw, event, exact = item
            copies = by_stream[stream]
            if version in copies:
                continue  # a duplicate delivery, or a conflicting copy the chain check names
            copies[version] = raw
            if not exact:
                inexact.add(stream)
            if kind in DECISION_TYPES:
                self.decided.add(stream)
            if kind == "panel.formed":  # the decisions need them: read now
                self._look_up(stream, kind, raw, event, exact)
            elif kind in WHOLE:
                self._looked_up.append((stream, kind, raw, event, exact))
        self.streams = {s: [v[k] for k in sorted(v)] for s, v in by_stream.items()}
        self.exact = self.streams.keys() - inexact
        self.panels = {e["data"]["round_id"]: e for e in self.of_type["panel.formed"]}
        if index:
            self.index()

    def index(self) -> None:
        """The looked-up events read and indexed: results by id, rounds, certificates, receipts, ...

        The ``scoring.completed`` are read only when the log holds fees or prize schedules: they serve the fees'
        check alone (``check_fees``), which has nothing to match them with otherwise, and the decisions' check
        recomputes each from its own stream. A third of the index's time in a log of unpaid rounds. The receipts
        shown by their bytes not to be escalations are read only if ``received`` is asked: another third."""
        completions: list[LookedUp] = []
        paid = False  # whether the log holds fees or prize schedules (readable or not)
        for looked_up in self._looked_up:
            if looked_up[1] == "scoring.completed":
                completions.append(looked_up)
                continue
            paid = paid or looked_up[1] in ("fee.owed", "prize_schedule.set")
            if looked_up[1] == "dossier.received" and looked_up[3] is None and not_escalated(looked_up[2]):
                self._receipts.append((looked_up, None))  # read if ``received`` is asked (rarely)
            else:
                self._look_up(*looked_up)
        if paid:
            for looked_up in completions:
                self._look_up(*looked_up)
        self._looked_up = []
        self._parsed = {}  # what no looked-up event took (a second copy, one not kept) is not held on
        self.by_id = {e["id"]: e for kind in RESULT_TYPES for e in self.of_type[kind]}
        self.rounds = {e["data"]["round_id"]: e["data"] for e in self.of_type["round.opened"]}

    def _look_up(self, stream: str, kind: str, raw: bytes, event: dict[str, Any] | None, exact: bool) -> None:
        if (event := self._readable(stream, kind, raw, event, exact)) is None:
            return
        if kind == "dossier.received":
            self._receipts.append((None, event))
        if kind in INDEXED or (kind == "dossier.received" and event["data"].get("escalated_from")):
            self.of_type[kind].append(event)

    @property
    def received(self) -> dict[str, dict[str, Any]]:
        """Every dossier's receipt (its data) by dossier id, the first in the log's order. The receipts whose
        bytes show them escalated from nothing (``not_escalated``: nearly all) are read only when a check first
        asks for this (``_filed_directly``, for a result going up a level with no dossier opened above): read
        before, they were a third of the log's index. Those of them not readable as their contract says are
        named then (``malformed``), not before."""
        if self._received is None:
            received: dict[str, dict[str, Any]] = {}
            for looked_up, event in self._receipts:
                if event is None:
                    assert looked_up is not None
                    if (event := self._readable(*looked_up)) is None:
                        continue
                received.setdefault(event["data"]["dossier_id"], event["data"])
            self._received = received
        return self._received

    def _readable(self, stream: str, kind: str, raw: bytes, event: dict[str, Any] | None, exact: bool
                  ) -> dict[str, Any] | None:
        """A looked-up event read (unless it was), or None where the checks cannot read it as its type (then named
        in ``malformed``)."""
        if event is None:
            taken = self._parsed.pop(raw, None) if exact else None
            event = taken if taken is not None else orjson.loads(raw) if exact else read_event(raw)[0]
            assert event is not None
        if (fault := shape_fault(kind, event)) is not None:
            self.malformed.append((stream, str(event.get("id", "")), f"a {kind} not read as its contract says: "
                                   f"{fault}; left out of the cross-service checks"))
            return None
        return event

    @staticmethod
    def events(raws: list[bytes]) -> list[dict[str, Any]]:
        return [read_event(raw)[0] for raw in raws]

    @staticmethod
    def exact_events(raws: list[bytes]) -> list[dict[str, Any]]:
        """``events`` of raws ``read_json`` has read exact once already (``Kept.exact``): the same values."""
        return list(map(orjson.loads, raws))


def check_decisions(log: Log, findings: Findings, rulebooks: Rulebooks, pool: Executor | None = None) -> None:
    """Every ``scoring.completed`` and ``result.*`` of every scoring stream, checked against the state the
    stream's earlier events fold to (folded once, event by event).

    Streams are independent (each needs only its own events and its round's panel): they are checked by ``pool``
    (the audit's worker processes, each loading the rulebooks once) in tasks of ``STREAMS_PER_TASK``, or here,
    the compiled decider confirming those of the common shape first (``_check_streams``); the discrepancies come
    back in the streams' order either way."""
    finish_decisions(start_decisions(log, pool, rulebooks), findings)


class PendingDecisions(NamedTuple):
    """``check_decisions`` under way (``start_decisions``): the compiled decider at work on the chain check's
    own records (``native``: ``binhchon_audit_core.Confirming``), or the worker processes' tasks on the log's
    streams; and what the streams left are checked with."""

    streams: list[tuple[str, list[bytes]]]
    native: Any
    tasks: list[Future[tuple[list[Discrepancy], int]]]
    log: Log
    pool: Executor | None
    rulebooks: Rulebooks


def start_decisions(log: Log, pool: Executor | None, rulebooks: Rulebooks, *, chains: Any = None
                    ) -> PendingDecisions:
    """``check_decisions`` started, to be finished (``finish_decisions``) once the main process has done what it
    does meanwhile. Given the compiled chain check (``chains``, ``binhchon_audit_core.Chains``), the compiled
    decider confirms the common streams it kept, read where they lie (no Python object per record), on threads
    of its own (its work holds no lock Python needs: the main thread goes on; ADR 0059, 2026-12-01 night).
    Otherwise the log's streams are checked by the worker processes (``pool``) or, when finished, here."""
    if chains is not None:
        decider = compiled_decider(_panel_models(log.panels), log.panels, rulebooks)
        if decider is not None:
            native = chains.confirm_decisions(decider, DECISION_TYPES, DECIDER_THREADS)
            return PendingDecisions([], native, [], log, pool, rulebooks)
    streams = [(s, raws) for s, raws in log.streams.items() if s in log.decided]
    tasks = [] if pool is None else _submitted(pool, streams, log)
    return PendingDecisions(streams, None, tasks, log, pool, rulebooks)


def _submitted(pool: Executor, streams: list[tuple[str, list[bytes]]], log: Log,
               exact: Set[str] | None = None) -> list[Future[tuple[list[Discrepancy], int]]]:
    """``streams`` checked by the worker processes, ``STREAMS_PER_TASK`` a task."""
    exact = log.exact if exact is None else exact
    return [pool.submit(check_streams_in_worker, streams[i:i + STREAMS_PER_TASK], log.panels,
                        {s for s, _ in streams[i:i + STREAMS_PER_TASK] if s in exact})
            for i in range(0, len(streams), STREAMS_PER_TASK)]


def finish_decisions(pending: PendingDecisions, findings: Findings, at: int | None = None) -> None:
    """The decisions' discrepancies added in the streams' order (at ``at`` among the findings, where the
    decisions' come), and how many decisions were recomputed: those the compiled decider confirmed (two each),
    the rest checked by the worker processes or here."""
    found: list[Discrepancy] = []
    checked = 0
    tasks = pending.tasks
    log = pending.log
    rest: list[tuple[str, list[bytes]]] | None = None
    exact: Set[str] = log.exact
    if pending.native is not None:
        confirmed, left = pending.native.wait()
        checked += 2 * confirmed
        rest = [(stream, raws) for stream, raws, _ in left]
        exact = {stream for stream, _, read_exact in left if read_exact}
    elif not tasks:
        rest = pending.streams
    if rest is not None:
        if pending.pool is not None and len(rest) > STREAMS_PER_TASK:
            tasks = _submitted(pending.pool, rest, log, exact)
        else:
            here = Findings()
            checked += _check_streams(rest, log.panels, pending.rulebooks, here, exact,
                                      compiled=pending.native is None)  # (what it left, it would leave again)
            found.extend(here.discrepancies)
    for task in tasks:
        discrepancies, count = task.result()
        found.extend(discrepancies)
        checked += count
    place = len(findings.discrepancies) if at is None else at
    findings.discrepancies[place:place] = found
    findings.counts["decisions_recomputed"] = checked


def _panel_models(panels: dict[str, dict[str, Any]]) -> Callable[[str], PanelFormed | None]:
    """Each round's panel read once, when first asked for (None for a round without one)."""
    models: dict[str, PanelFormed] = {}

    def panel_of(round_id: str) -> PanelFormed | None:
        panel = models.get(round_id)
        if panel is None and round_id in panels:
            panel = models[round_id] = PanelFormed.model_validate(panels[round_id]["data"])
        return panel
    return panel_of


_worker_rulebooks: Rulebooks | None = None


def worker_rulebooks() -> Rulebooks:
    """The rulebooks the worker processes check with, loaded once per process: by the main process before the
    workers fork (they inherit them), by each spawned worker at its first task."""
    global _worker_rulebooks
    if _worker_rulebooks is None:
        _worker_rulebooks = Rulebooks.load()
    return _worker_rulebooks


def check_streams_in_worker(streams: list[tuple[str, list[bytes]]], panels: dict[str, dict[str, Any]],
                            exact: set[str] | None = None) -> tuple[list[Discrepancy], int]:
    """``_check_streams`` in a worker process, with the rulebooks it loaded once."""
    findings = Findings()
    checked = _check_streams(streams, panels, worker_rulebooks(), findings, exact or set())
    return findings.discrepancies, checked


def _check_streams(streams: list[tuple[str, list[bytes]]], panels: dict[str, dict[str, Any]],
                   rulebooks: Rulebooks, findings: Findings, exact: Set[str] = frozenset(), *,
                   compiled: bool = True) -> int:
    """``exact``: the streams whose raws ``read_json`` has read exact already (``Log.exact``). ``compiled``: the
    compiled decider has not been asked about these streams yet."""
    checked = 0
    panel_of = _panel_models(panels)  # each round's panel read once, not once per dossier
    # the common shape confirmed by the compiled decider, all of it without a Python object per stream (ADR 0059);
    # what it leaves, recomputed cheaply in Python: its sheets opened from the raw records, else the events read
    decider = compiled_decider(panel_of, panels, rulebooks) if compiled else None
    confirmed_by = decider.confirm_streams([raws for _, raws in streams]) if decider is not None else None
    compiled_answers = confirmed_by or [False] * len(streams)
    for (stream, raws), confirmed_compiled in zip(streams, compiled_answers, strict=True):
        if confirmed_compiled:
            checked += 2
            continue
        confirmed = confirm_raws(raws, stream in exact, panel_of, rulebooks)
        if confirmed is not None:
            checked += confirmed
            continue
        events = Log.exact_events(raws) if stream in exact else Log.events(raws)
        confirmed = confirm_stream(events, panel_of, rulebooks)
        if confirmed is not None:
            checked += confirmed
            continue
        state: DossierScoring | None = None
        broken = False
        replayed: list[RecordedEvent] = []
        for event in events:
            if event["type"] == "scoring.completed":
                _check_completed(panels, findings, rulebooks, stream, None if broken else state, replayed, event,
                                 panel_of)
                checked += 1
            elif event["type"] in RESULT_TYPES:
                _check_result(findings, rulebooks, stream, None if broken else state, replayed, event)
                checked += 1
            replayed.append(recorded(event))
            if not broken:
                try:
                    state = evolve(state, replayed[-1])
                except (AssertionError, ValueError):
                    broken = True  # an event the fold cannot take: what follows is named as never opened
    return checked


def _check_completed(panels: dict[str, dict[str, Any]], findings: Findings, rulebooks: Rulebooks, stream: str,
                     state: DossierScoring | None,
                     replayed: list[RecordedEvent], event: dict[str, Any],
                     panel_of: Callable[[str], PanelFormed | None]) -> None:
    data = event["data"]
    if state is None:
        findings.add("scoring", stream, "scoring.completed on a stream that was never opened", event["id"])
        return
    rulebook = _rulebook(rulebooks, data.get("rulebook_id"), data.get("rulebook_version"))
    if rulebook is None:
        findings.add("scoring", stream, f"names rulebook {data['rulebook_id']} v{data['rulebook_version']}, which "
                     "no rulebook file holds", event["id"])
        return
    if (state.opened.rulebook_id, state.opened.rulebook_version) != (rulebook.id, rulebook.version):
        findings.add("scoring", stream, f"completed under {rulebook.id} v{rulebook.version}, opened under "
                     f"{state.opened.rulebook_id} v{state.opened.rulebook_version}", event["id"])
        return  # recomputed under a rulebook whose sheets differ, the sheets would not even add up
    if rulebook.find_sheet(state.opened.sheet_id) is None:
        findings.add("scoring", stream, f"opened with sheet {state.opened.sheet_id!r}, which {rulebook.id} "
                     f"v{rulebook.version} does not have",
                     *(e.id for e in replayed if e.type == "scoring.opened"), event["id"])
        return
    panel_event = panels.get(state.opened.round_id)
    if panel_event is None:
        findings.add("scoring", stream, f"no panel.formed for round {state.opened.round_id}", event["id"])
        return
    panel = panel_of(state.opened.round_id)
    assert panel is not None
    sheets = [e.id for e in replayed if e.type in ("score.submitted", "score.amended")]
    opened = _opened(state, replayed, data.get("sealing_key"))
    if isinstance(opened, str):
        findings.add("scoring", stream, opened, event["id"], *sheets)
        return
    state, key = opened
    try:
        outcome = evaluate(state, panel, rulebook, closing=True, key=key)
    except Refused as refused:
        findings.add("scoring", stream, f"completed, but recomputed: {refused.message}", event["id"])
        return
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:  # forged marks scoring never seals
        findings.add("scoring", stream, f"completed, but its sheets' marks cannot be recomputed: "
                     f"{type(exc).__name__} {exc}", event["id"], *sheets)
        return
    if outcome is None or outcome.__class__.__name__ != "ScoringCompleted":
        findings.add("scoring", stream, f"completed, but the sheets call for {type(outcome).__name__}",
                     event["id"], *sheets)
        return
    diff = differences(outcome.model_dump(mode="json"), data)
    if diff:
        findings.add("scoring", stream, "scoring.completed disagrees with its sheets: " + "; ".join(diff),
                     event["id"], *sheets)


def _rulebook(rulebooks: Rulebooks, rulebook_id: Any, version: Any) -> Rulebook | None:
    """The rulebook a completion names, or None (also for a forged name no key could be: a list, a dict)."""
    try:
        return rulebooks.get(rulebook_id, version)
    except TypeError:
        return None


def _opened(state: DossierScoring, replayed: list[RecordedEvent], revealed: str | None
            ) -> tuple[DossierScoring, DossierKey | None] | str:
    """The dossier with its sealed sheets opened by the key its completion reveals, every sealed re-scoring of it
    checked to open too; or what is wrong. No key revealed is right only for sheets recorded in clear (v1)."""
    rescorings = [e for e in replayed if e.type == "scoring.rescore_requested" and e.data.get("sealed")]
    if revealed is None:
        if any(s.sealed is not None for s in state.sheets) or rescorings:
            return "completed without revealing the sealing key of its sealed sheets: they cannot be recomputed"
        return state, None
    try:
        key = DossierKey.from_revealed(revealed)
        for event in rescorings:
            sealed = SealedMarks.model_validate(event.data["sealed"])
            unseal(key, rescore_context(state.dossier_id, event.data["scoring_round"]), sealed)
        return unsealed(state, key), key
    except KeyError as exc:  # opened, but not a sheet's marks (scoring reads their scores and total)
        return f"sealed marks open with the revealed key but hold no {exc}: not a sheet's marks"
    except (Unsealable, ValueError, TypeError) as exc:  # TypeError: a key forged as another JSON type
        return f"the sealing key revealed at completion does not open its sealed marks: {exc}"


def _check_result(findings: Findings, rulebooks: Rulebooks, stream: str, state: DossierScoring | None,
                  replayed: list[RecordedEvent], event: dict[str, Any]) -> None:
    if state is None or state.status != COMPLETED or state.completed is None:
        findings.add("result", stream, f"{event['type']} before scoring completed", event["id"])
        return
    done = state.completed
    rulebook = rulebooks.get(done["rulebook_id"], done["rulebook_version"])
    if rulebook is None:
        findings.add("result", stream, f"rulebook {done['rulebook_id']} v{done['rulebook_version']} is unknown",
                     event["id"])
        return
    try:
        decision = DecisionReference.model_validate(event["data"]["decision"])
    except ValueError as exc:  # a forged decision is named, not a crash of the verify
        findings.add("result", stream, f"{event['type']}: its decision does not read: {exc}", event["id"])
        return
    try:
        expected = decide(state, decision, rulebook)
    except (TypeError, KeyError, ValueError) as exc:  # a completion forged past its model's lax reading
        findings.add("result", stream, f"{event['type']} cannot be recomputed from its completed result "
                     f"({type(exc).__name__}: {exc})", event["id"])
        return
    completed_id = next((e.id for e in reversed(replayed) if e.type == "scoring.completed"), "")
    expected_type = "result.approved" if expected.__class__.__name__ == "ResultApproved" else "result.not_recognised"
    if expected_type != event["type"]:
        findings.add("result", stream, f"recorded {event['type']}, the completed result calls for {expected_type}",
                     event["id"], completed_id)
        return
    diff = differences(expected.model_dump(mode="json"), event["data"])
    if diff:
        findings.add("result", stream, f"{event['type']} disagrees with its completed result: " + "; ".join(diff),
                     event["id"], completed_id)


def check_certificates(log: Log, findings: Findings, jwks: dict[str, Any] | None) -> None:
    """Each certificate signed by a published key, for a recognised approved result, one per such result."""
    from certification.service import signed_document  # the service's own definition of what is signed

    issued: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in log.of_type["certificate.issued"]:
        cert = event["data"]
        number = cert.get("number", "?")
        if jwks is not None:
            valid, why = verify_document(signed_document(cert), jwks)
            if not valid:
                findings.add("certificate", number, f"signature: {why}", event["id"])
        result = log.by_id.get(cert.get("result_event_id", ""))
        if result is None or result["type"] != "result.approved":
            findings.add("certificate", number, "issued for no approved result on the topics", event["id"],
                         cert.get("result_event_id", ""))
            continue
        issued[result["id"]].append(event)
        rating = result["data"]["rating"]
        if not rating["recognised"]:
            findings.add("certificate", number, "issued for a result not recognised at its level",
                         event["id"], result["id"])
        said = {"dossier_id": cert.get("dossier_id"), "rating_label": cert.get("rating_label"),
                "stars": cert.get("stars"), "points": cert.get("points"), "decision": cert.get("decision")}
        meant = {"dossier_id": result["data"]["dossier_id"], "rating_label": rating.get("label"),
                 "stars": rating.get("stars"), "points": result["data"].get("points"),
                 "decision": result["data"].get("decision")}
        if diff := differences(meant, said):
            findings.add("certificate", number, "says other than its result: " + "; ".join(diff),
                         event["id"], result["id"])
    for result in log.of_type["result.approved"]:
        copies = issued.get(result["id"], [])
        if result["data"]["rating"]["recognised"] and len(copies) != 1:
            findings.add("certificate", result["data"]["dossier_id"],
                         f"{len(copies)} certificates for a recognised result (one expected)",
                         result["id"], *(c["id"] for c in copies))
    findings.counts["certificates"] = len(log.of_type["certificate.issued"])


def check_escalations(log: Log, findings: Findings) -> None:
    """A result that goes up a level opens exactly one dossier in its round's parent round (none when the producer
    filed the product there directly), and every escalated dossier comes from such a result."""
    escalated: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in log.of_type["dossier.received"]:
        origin = event["data"].get("escalated_from")
        if not origin:
            continue
        escalated[origin["result_event_id"]].append(event)
        result = log.by_id.get(origin["result_event_id"])
        dossier = event["data"]["dossier_id"]
        if result is None or result["type"] != "result.approved" or not result["data"].get("goes_up_a_level"):
            findings.add("escalation", dossier, "escalated from no approved result going up a level", event["id"],
                         origin["result_event_id"])
            continue
        parent = log.rounds.get(result["data"]["round_id"], {}).get("parent_round_id")
        if origin["dossier_id"] != result["data"]["dossier_id"] or origin["round_id"] != result["data"]["round_id"]:
            findings.add("escalation", dossier, "names another dossier or round than its result", event["id"],
                         result["id"])
        if parent != event["data"]["round_id"]:
            findings.add("escalation", dossier, f"opened in round {event['data']['round_id']}, the parent round "
                         f"is {parent}", event["id"], result["id"])
    direct = 0
    for result in log.of_type["result.approved"]:
        data = result["data"]
        if not data.get("goes_up_a_level"):
            continue
        round_ = log.rounds.get(data["round_id"])
        if round_ is None:
            findings.add("escalation", data["dossier_id"], f"round {data['round_id']} was never opened on the "
                         "topics", result["id"])
            continue
        copies = escalated.get(result["id"], [])
        if not copies and _filed_directly(log, data["dossier_id"], round_.get("parent_round_id")):
            direct += 1  # the producer filed at the next level already: intake escalates nothing, rightly
            continue
        if round_.get("parent_round_id") and len(copies) != 1:
            findings.add("escalation", data["dossier_id"], f"goes up a level: {len(copies)} dossiers opened in the "
                         "parent round (one expected)", result["id"], *(c["id"] for c in copies))
    findings.counts["escalations"] = sum(len(v) for v in escalated.values())
    if direct:
        findings.counts["escalations_filed_directly"] = direct


def _filed_directly(log: Log, dossier_id: str, parent_round_id: str | None) -> bool:
    """Whether the producer of ``dossier_id`` filed the same product in the parent round themselves: a dossier
    there with intake's id for that producer and product (one dossier per producer, product and round), received
    with no ``escalated_from``. Intake then refuses the escalation as a duplicate (``on_result_approved``)."""
    from intake.domain.dossiers import dossier_id_for  # intake's own definition of a dossier's identity

    original = log.received.get(dossier_id)
    if not parent_round_id or original is None:
        return False
    number = original.get("producer", {}).get("registration_number")
    if isinstance(number, dict):  # a household's, sealed (ADR 0048): the audit holds no key and needs none
        return _filed_directly_sealed(log, original, number, parent_round_id)
    try:
        there = dossier_id_for(parent_round_id, original["producer"]["registration_number"],
                               original["product"]["name"])
    except (KeyError, TypeError):
        return False
    direct = log.received.get(there)
    return direct is not None and direct.get("round_id") == parent_round_id and not direct.get("escalated_from")


def _filed_directly_sealed(log: Log, original: dict[str, Any], number: dict[str, Any], parent_round_id: str) -> bool:
    """``_filed_directly`` for a producer whose registration number is sealed: one producer's fields are sealed
    with its one key, so a direct filing of the same product in the parent round is one sealed with the same key
    id (a producer erased between the two has a new key: then the escalation's absence is reported)."""
    from intake.domain.dossiers import product_key

    kid, product = number.get("kid"), product_key(str(original.get("product", {}).get("name", "")))
    for received in log.received.values():
        theirs = received.get("producer", {}).get("registration_number")
        if (received.get("round_id") == parent_round_id and not received.get("escalated_from")
                and isinstance(theirs, dict) and theirs.get("kid") == kid
                and product_key(str(received.get("product", {}).get("name", ""))) == product):
            return True
    return False
