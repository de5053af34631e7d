"""Read models of scoring, folded from events (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from binhchon_kit.contracts.scoring import ScoringNotOpened
from binhchon_kit.events import RecordedEvent
from binhchon_kit.folding import replay
from binhchon_kit.personal import as_carried
from scoring.domain import scoring

ROUND_KEY = "round_key"
AWAITING_KEY = "awaiting_key"


def page_key(doc: Mapping[str, Any]) -> str:
    """Where a dossier stands in its round's list (ADR 0015): by sample code, then dossier id (unique, ASCII)."""
    return f"{doc.get('sample_code') or ''}|{doc['dossier_id']}"


def round_key(doc: Mapping[str, Any]) -> str | None:
    """The round, then ``page_key``: a round's dossiers are one range of this key's index (issue 14; a round id
    holds no ``|``). None for a document of no round."""
    return f"{doc['round_id']}|{page_key(doc)}" if doc.get("round_id") else None


def awaiting_key(doc: Mapping[str, Any]) -> str | None:
    """``round_key`` while the dossier's scoring has completed and awaits its council's decision, else None: a
    proposal reads the round's awaiting dossiers as one range of this key's index, not every dossier the round ever
    had (issue 14: at ~170 dossiers a round, a proposal read them all, 1.3 s at p50)."""
    return round_key(doc) if doc.get("status") == scoring.COMPLETED else None


def keyed(doc: dict[str, Any]) -> dict[str, Any]:
    """A scoring document with the keys its indexes walk."""
    return {**doc, "page_key": page_key(doc), ROUND_KEY: round_key(doc), AWAITING_KEY: awaiting_key(doc)}


def fold_scoring(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    if isinstance(events[0].model(), ScoringNotOpened):
        return fold_not_opened(events[0].data)
    state = replay(scoring.evolve, events)
    assert state is not None
    opened = state.opened
    doc = {
        "dossier_id": state.dossier_id, "round_id": opened.round_id, "status": state.status,
        "programme": opened.programme.value, "level": opened.level.value, "rulebook_id": opened.rulebook_id,
        "rulebook_version": opened.rulebook_version, "product_name": opened.product_name,
        "producer_name": as_carried(opened.producer_name), "product_group": opened.product_group,
        "sample_code": opened.sample_code, "scoring_round": state.scoring_round,
        "submitted": sorted(state.current_sheets()), "recused": sorted(state.recused),
        "result": state.completed, "decision": state.decision, "opened_at": events[0].time,
    }
    return keyed(doc)


def fold_first(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """Streams made of one event (panels, proposals): their read model is that event's data."""
    return {**events[0].data, "recorded_at": events[0].time, "recorded_by": events[0].actor.id}


def fold_not_opened(data: dict[str, Any]) -> dict[str, Any]:
    """A dossier scoring could not open: what it is and why, so the round's list shows it to the secretariat."""
    keep = ("dossier_id", "round_id", "programme", "level", "rulebook_id", "rulebook_version", "product_name",
            "producer_name", "product_group", "sample_code", "reason_code", "reason_params")
    doc: dict[str, Any] = {**{k: data.get(k) for k in keep}, "status": scoring.NOT_OPENED, "scoring_round": None,
           "submitted": [], "recused": [], "result": None, "decision": None}
    return keyed(doc)
