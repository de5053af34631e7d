"""Panels (hội đồng / ban giám khảo): who scores, who chairs, what a quorum is."""

from __future__ import annotations

import math
from collections.abc import Sequence

from binhchon_kit.contracts.scoring import MemberRole, PanelFormed, PanelMember, Session
from scoring.domain.errors import Refused
from scoring.domain.rulebook import Rulebook


def sessions_needed(rulebook: Rulebook) -> dict[Session, list[str]]:
    """Each session the rulebook's criteria are scored in, with those criteria (``sheet/code (label)``)."""
    needed: dict[Session, list[str]] = {}
    for sheet in rulebook.sheets:
        for criterion in sheet.criteria:
            needed.setdefault(criterion.session, []).append(f"{sheet.id}/{criterion.code} ({criterion.label})")
    return needed


def session_problems(sessions: Sequence[Session], rulebook: Rulebook) -> list[str]:
    """A criterion scored in a session the panel does not hold could never be scored as the rulebook says."""
    return [f"sessions: {session.value} is missing, and rulebook {rulebook.id} v{rulebook.version} scores "
            f"{len(criteria)} criteria in it: {', '.join(criteria)}"
            for session, criteria in sessions_needed(rulebook).items() if session not in sessions]


def default_sessions(rulebook: Rulebook) -> list[Session]:
    """A panel that names no sessions holds those its rulebook scores in, in the usual order."""
    needed = sessions_needed(rulebook)
    return [session for session in Session if session in needed]


def validate_panel(panel: PanelFormed, rulebook: Rulebook) -> PanelFormed:
    ids = [m.id for m in panel.members]
    problems = session_problems(panel.sessions, rulebook)
    if len(ids) != len(set(ids)):
        problems.append("a member appears twice")
    if sum(m.role is MemberRole.CHAIR for m in panel.members) != 1:
        problems.append("a panel has exactly one chair")
    if not scoring_members(panel):
        problems.append("a panel needs members who score")
    if problems:
        raise Refused("the panel is not valid", kind="invalid", problems=problems)
    return panel


def scoring_members(panel: PanelFormed) -> list[PanelMember]:
    """Members whose sheets count: the chair and the members (a secretary keeps the minutes)."""
    return [m for m in panel.members if m.role is not MemberRole.SECRETARY]


def chair(panel: PanelFormed) -> PanelMember:
    return next(m for m in panel.members if m.role is MemberRole.CHAIR)


def with_substitutes(panel: PanelFormed, substitutes: Sequence[PanelMember]) -> PanelFormed:
    """The panel as it scores one dossier: its members and the substitutes added for that dossier."""
    if not substitutes:
        return panel
    return panel.model_copy(update={"members": [*panel.members, *substitutes]})


def member(panel: PanelFormed, member_id: str) -> PanelMember:
    found = next((m for m in panel.members if m.id == member_id), None)
    if found is None:
        raise Refused(f"{member_id} is not a member of this round's panel", kind="forbidden")
    return found


def quorum_needed(panel: PanelFormed, recused: set[str]) -> int:
    eligible = [m for m in scoring_members(panel) if m.id not in recused]
    return max(1, math.ceil(panel.quorum.fraction * len(eligible) - 1e-9))


def quorum_met(panel: PanelFormed, recused: set[str], submitted: set[str]) -> bool:
    eligible = {m.id for m in scoring_members(panel)} - recused
    counted = submitted & eligible
    the_chair = chair(panel).id
    chair_ok = not panel.quorum.chair_required or the_chair in recused or the_chair in counted
    return len(counted) >= quorum_needed(panel, recused) and chair_ok
