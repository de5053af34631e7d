"""Scoring one dossier: opened → sheets (sealed) → re-scoring when too far apart → completed → decided.

Decisions return the event to record or raise Refused; ``evolve`` is the fold of the dossier's scoring events
(``binhchon_kit.folding.replay(evolve, events)``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from binhchon_kit.contracts.common import DecisionReference, Level, Programme
from binhchon_kit.contracts.scoring import (
    CriterionScore,
    JudgeRecused,
    MemberRole,
    MemberSubstituted,
    NotOpenedReason,
    NotRecognisedReason,
    PanelFormed,
    PanelMember,
    Rating,
    RescoreRequested,
    ResultApproved,
    ResultNotRecognised,
    ScoreAmended,
    ScoreSubmitted,
    ScoringCancelled,
    ScoringCompleted,
    ScoringNotOpened,
    ScoringOpened,
    SealedMarks,
)
from binhchon_kit.events import RecordedEvent
from scoring.domain import panel as panels
from scoring.domain import sealing
from scoring.domain.aggregation import aggregate, total
from scoring.domain.errors import Refused
from scoring.domain.rulebook import Rulebook, Sheet

OPEN, COMPLETED, APPROVED, NOT_RECOGNISED, CANCELLED = "open", "completed", "approved", "not_recognised", "cancelled"
NOT_OPENED = "not_opened"  # the read model's status of a dossier scoring could not open



def scoring_stream(dossier_id: str) -> str:
    """A dossier's scoring stream, and its read model document's ``_id``."""
    return "scoring-" + dossier_id.removeprefix("dossier-")

@dataclass(frozen=True)
class SheetOnRecord:
    """A sheet as the fold read it: its marks are None while sealed (ADR 0036) until ``unsealed`` opens them."""

    sheet_id: str
    member_id: str
    scoring_round: int
    scores: dict[str, float] | None
    total: float | None
    event_type: str
    sealed: SealedMarks | None = None

    def context(self, dossier_id: str) -> dict[str, Any]:
        return sealing.sheet_context(dossier_id, self.event_type, self.sheet_id, self.member_id, self.scoring_round)


@dataclass(frozen=True)
class DossierScoring:
    dossier_id: str
    version: int
    opened: ScoringOpened
    status: str = OPEN
    scoring_round: int = 1
    recused: frozenset[str] = frozenset()
    substitutes: tuple[PanelMember, ...] = ()  # added for this dossier, each in place of a recused member
    substituted: frozenset[str] = frozenset()  # the recused members who have a substitute
    sheets: tuple[SheetOnRecord, ...] = ()  # every sheet ever recorded, first ones included
    completed: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    history: tuple[str, ...] = field(default=())

    def current_sheets(self) -> dict[str, SheetOnRecord]:
        """The counted sheet of each member: their latest in the current scoring round."""
        latest: dict[str, SheetOnRecord] = {}
        for sheet in self.sheets:
            if sheet.scoring_round == self.scoring_round:
                latest[sheet.member_id] = sheet
        return latest

    def panel(self, panel: PanelFormed) -> PanelFormed:
        """The round's panel as it scores this dossier: with this dossier's substitutes."""
        return panels.with_substitutes(panel, self.substitutes)

    def sealing_kid(self) -> str | None:
        """The master key the dossier's sheets are sealed under (its first sealed sheet's); None: none sealed yet,
        so a new one seals under the current master key."""
        return next((s.sealed.kid for s in self.sheets if s.sealed is not None), None)


def unsealed(state: DossierScoring, key: sealing.DossierKey) -> DossierScoring:
    """The dossier with every sealed sheet's marks opened by ``key`` (scoring's own, derived from its master key,
    or the one ``scoring.completed`` revealed); raises ``sealing.Unsealable`` when the key is not the committed
    one or a sheet was altered."""
    sheets = []
    for sheet in state.sheets:
        if sheet.sealed is not None and sheet.scores is None:
            marks = sealing.unseal(key, sheet.context(state.dossier_id), sheet.sealed)
            sheet = replace(sheet, scores={s["code"]: s["points"] for s in marks["scores"]}, total=marks["total"])
        sheets.append(sheet)
    return replace(state, sheets=tuple(sheets))


def evolve(state: DossierScoring | None, event: RecordedEvent) -> DossierScoring | None:
    """The dossier's scoring after ``event``, chosen by the event's class; None while it was never opened (a
    stream that begins with ``ScoringNotOpened``)."""
    match data := event.model():
        case ScoringOpened():
            return DossierScoring(dossier_id=data.dossier_id, version=event.version, opened=data)
        case ScoringNotOpened():
            return None
    assert state is not None, f"{event.type} before scoring was opened"
    state = replace(state, version=event.version)
    match data:
        case JudgeRecused(member_id=member_id):
            return replace(state, recused=state.recused | {member_id})
        case MemberSubstituted(substitute=substitute, replaces=replaces):
            return replace(state, substitutes=(*state.substitutes, substitute),
                           substituted=state.substituted | {replaces})
        case ScoreSubmitted() | ScoreAmended():
            sheet = SheetOnRecord(sheet_id=data.sheet_id, member_id=data.member_id,
                                  scoring_round=data.scoring_round, event_type=event.type, sealed=data.sealed,
                                  scores=None if data.scores is None else {s.code: s.points for s in data.scores},
                                  total=data.total)
            return replace(state, sheets=(*state.sheets, sheet))
        case RescoreRequested(scoring_round=scoring_round):
            return replace(state, scoring_round=scoring_round + 1)
        case ScoringCompleted():
            return replace(state, status=COMPLETED, completed=event.data)
        case ResultApproved():
            return replace(state, status=APPROVED, decision=event.data)
        case ResultNotRecognised():
            return replace(state, status=NOT_RECOGNISED, decision=event.data)
        case ScoringCancelled():
            return replace(state, status=CANCELLED)
    return state


# ---- decisions -------------------------------------------------------------------------------------------

def level_refusal(rulebook: Rulebook, level: Level) -> Refused | None:
    """A round at a level its rulebook does not have could score nothing (e.g. the district level, gone from OCOP
    and CNNTTB since the 2025 reforms)."""
    if rulebook.level_rule(level) is not None:
        return None
    levels = [rule.level.value for rule in rulebook.levels]
    return Refused(f"level: the round is at the {level.value} level, and rulebook {rulebook.id} "
                   f"v{rulebook.version} has no {level.value} level (its levels: {', '.join(levels)}); a round "
                   "at this level can score no dossier", kind="invalid", field="level",
                   reason_code=NotOpenedReason.LEVEL_NOT_IN_RULEBOOK.value, level=level.value, levels=levels)


def open_scoring(accepted: Mapping[str, Any], dossier_id: str, rulebook: Rulebook) -> ScoringOpened:
    """Open an accepted dossier for scoring, or refuse with a ``reason_code`` (``NotOpenedReason``) and its
    parameters in the refusal's detail."""
    if Programme(accepted["programme"]) is not rulebook.programme:
        raise Refused(f"rulebook {rulebook.id} is for {rulebook.programme.value}, not {accepted['programme']}",
                      kind="invalid", reason_code=NotOpenedReason.PROGRAMME_MISMATCH.value,
                      programme=accepted["programme"], rulebook_programme=rulebook.programme.value)
    sheet = rulebook.sheet_for(accepted["product_group"])
    if sheet is None:
        raise Refused(f"product group {accepted['product_group']!r} is not in rulebook {rulebook.id}",
                      kind="invalid", reason_code=NotOpenedReason.PRODUCT_GROUP_NOT_IN_RULEBOOK.value,
                      product_group=accepted["product_group"],
                      product_groups=[g.label for g in rulebook.product_groups])
    if (refused := level_refusal(rulebook, Level(accepted["level"]))) is not None:
        raise refused
    return ScoringOpened(
        dossier_id=dossier_id, round_id=accepted["round_id"], programme=Programme(accepted["programme"]),
        level=Level(accepted["level"]), rulebook_id=rulebook.id, rulebook_version=rulebook.version,
        sheet_id=sheet.id, product_group=accepted["product_group"], product_name=accepted["product_name"],
        producer_name=accepted["producer_name"], sample_code=accepted["sample_code"],
        producer_address=accepted.get("producer_address"), province_code=accepted.get("province_code"),
        producer_registration_number=accepted.get("producer_registration_number"))


def not_opened(accepted: Mapping[str, Any], dossier_id: str, rulebook_version: int | None,
               refused: Refused) -> ScoringNotOpened:
    """What the secretariat is told when an accepted dossier cannot be opened: the refusal's code and
    parameters (a refusal without a code means the rulebook itself is unknown)."""
    params = {k: v for k, v in refused.detail.items() if k not in ("reason_code", "field")}
    code = refused.detail.get("reason_code", NotOpenedReason.RULEBOOK_UNKNOWN.value)
    if code == NotOpenedReason.RULEBOOK_UNKNOWN.value:
        params = {"rulebook_id": accepted["rulebook_id"]}
    return ScoringNotOpened(
        dossier_id=dossier_id, round_id=accepted["round_id"], programme=Programme(accepted["programme"]),
        level=Level(accepted["level"]), rulebook_id=accepted["rulebook_id"], rulebook_version=rulebook_version,
        product_group=accepted["product_group"], product_name=accepted["product_name"],
        producer_name=accepted["producer_name"], sample_code=accepted["sample_code"],
        reason_code=NotOpenedReason(code), reason_params=params,
        producer_registration_number=accepted.get("producer_registration_number"))


def cancel(state: DossierScoring, reason: str) -> ScoringCancelled | None:
    """The dossier was withdrawn: stop scoring it (nothing to do once a result exists or it is cancelled)."""
    if state.status != OPEN:
        return None
    return ScoringCancelled(reason=reason or "hồ sơ được rút", sheets_on_record=len(state.sheets))


def _require_open(state: DossierScoring, action: str) -> None:
    if state.status != OPEN:
        raise Refused(f"cannot {action}: scoring of this dossier is {state.status}", current_status=state.status)


def recuse(state: DossierScoring, panel: PanelFormed, member_id: str, reason: str) -> JudgeRecused:
    _require_open(state, "declare a conflict of interest")
    panels.member(state.panel(panel), member_id)
    if member_id in state.recused:
        raise Refused(f"{member_id} is already recused from this dossier")
    if any(s.member_id == member_id for s in state.sheets):
        raise Refused("a conflict of interest is declared before scoring; this member has already scored")
    return JudgeRecused(member_id=member_id, reason=reason)


def substitute(state: DossierScoring, panel: PanelFormed, new_member: PanelMember, replaces: str, reason: str
               ) -> MemberSubstituted:
    """A substitute member scores this dossier in place of a member recused from it (one for each)."""
    _require_open(state, "add a substitute member")
    if replaces not in state.recused:
        raise Refused(f"replaces: {replaces} is not recused from this dossier; a substitute stands in for a "
                      "recused member", kind="invalid", field="replaces", recused=sorted(state.recused))
    if replaces in state.substituted:
        raise Refused(f"replaces: {replaces} already has a substitute for this dossier", field="replaces")
    if any(m.id == new_member.id for m in state.panel(panel).members):
        raise Refused(f"substitute.id: {new_member.id} is already on the panel for this dossier",
                      kind="invalid", field="substitute.id")
    if new_member.role is not MemberRole.MEMBER:
        raise Refused("substitute.role: a substitute scores as a member (the panel keeps its chair and secretary)",
                      kind="invalid", field="substitute.role")
    return MemberSubstituted(dossier_id=state.dossier_id, round_id=state.opened.round_id, panel_id=panel.panel_id,
                             substitute=new_member, replaces=replaces, reason=reason)


def check_sheet(sheet: Sheet, scores: Mapping[str, float]) -> list[str]:
    """Every problem with a score sheet: unknown criteria, points not allowed, criteria missing."""
    criteria = {c.code: c for c in sheet.criteria}
    problems = [f"{code}: not a criterion of sheet {sheet.id}" for code in scores if code not in criteria]
    for code, criterion in criteria.items():
        if code not in scores:
            problems.append(f"{code}: missing ({criterion.label})")
        elif not criterion.accepts(scores[code]):
            allowed = criterion.allowed if criterion.allowed is not None else f"0..{criterion.maximum} in halves"
            problems.append(f"{code}: {scores[code]} is not allowed (allowed: {allowed})")
    return problems


def _can_score(state: DossierScoring, panel: PanelFormed, member_id: str) -> None:
    _require_open(state, "score")
    if panels.member(state.panel(panel), member_id).role is MemberRole.SECRETARY:
        raise Refused("the panel's secretary keeps the minutes and does not score", kind="forbidden")
    if member_id in state.recused:
        raise Refused(f"{member_id} is recused from this dossier", kind="forbidden")


def _scores(sheet: Sheet, scores: Mapping[str, float]) -> tuple[list[CriterionScore], float]:
    problems = check_sheet(sheet, scores)
    if problems:
        raise Refused("the score sheet has problems", kind="invalid", problems=problems)
    ordered = [CriterionScore(code=c.code, points=scores[c.code]) for c in sheet.criteria]
    return ordered, total({c.code: c.points for c in ordered})


def _sealed_marks(state: DossierScoring, key: sealing.DossierKey, event_type: str, sheet_id: str, member_id: str,
                  marks: dict[str, Any]) -> SealedMarks:
    context = sealing.sheet_context(state.dossier_id, event_type, sheet_id, member_id, state.scoring_round)
    return sealing.seal(key, context, marks)


def submit(state: DossierScoring, panel: PanelFormed, rulebook: Rulebook, member_id: str,
           scores: Mapping[str, float], comment: str, key: sealing.DossierKey) -> ScoreSubmitted:
    """The member's sheet, its marks sealed under the dossier's ``key`` (ADR 0036)."""
    _can_score(state, panel, member_id)
    if member_id in state.current_sheets():
        raise Refused("this member's sheet is already submitted and final; amend it with a reason")
    ordered, sheet_total = _scores(rulebook.sheet(state.opened.sheet_id), scores)
    sheet_id = str(uuid.uuid4())
    marks = {"scores": [c.model_dump() for c in ordered], "total": sheet_total, "comment": comment}
    return ScoreSubmitted(sheet_id=sheet_id, member_id=member_id, scoring_round=state.scoring_round,
                          rulebook_id=rulebook.id, rulebook_version=rulebook.version,
                          score_sheet=state.opened.sheet_id,
                          sealed=_sealed_marks(state, key, "score.submitted", sheet_id, member_id, marks))


def amend(state: DossierScoring, panel: PanelFormed, rulebook: Rulebook, member_id: str,
          scores: Mapping[str, float], reason: str, key: sealing.DossierKey) -> ScoreAmended:
    """The member's new sheet in this scoring round, its marks and reason sealed as a first sheet's are."""
    _can_score(state, panel, member_id)
    previous = state.current_sheets().get(member_id)
    if previous is None:
        raise Refused("there is no sheet of this member in this scoring round to amend")
    ordered, sheet_total = _scores(rulebook.sheet(state.opened.sheet_id), scores)
    sheet_id = str(uuid.uuid4())
    marks = {"scores": [c.model_dump() for c in ordered], "total": sheet_total, "reason": reason}
    return ScoreAmended(sheet_id=sheet_id, amends_sheet_id=previous.sheet_id, member_id=member_id,
                        scoring_round=state.scoring_round, rulebook_id=rulebook.id,
                        rulebook_version=rulebook.version, score_sheet=state.opened.sheet_id,
                        sealed=_sealed_marks(state, key, "score.amended", sheet_id, member_id, marks))


def evaluate(state: DossierScoring, panel: PanelFormed, rulebook: Rulebook, *, closing: bool,
             key: sealing.DossierKey | None) -> RescoreRequested | ScoringCompleted | None:
    """After a sheet (or when the chair closes scoring): complete, ask for re-scoring, or wait.

    Scoring completes by itself once every eligible member has a sheet; the chair may close it earlier when
    the quorum has scored. ``state``'s counted sheets must be unsealed; ``key``, the dossier's sealing key,
    seals a re-scoring's totals and is revealed on completion (None: recomputing a dossier scored before sheets
    were sealed, whose events carry their marks in clear)."""
    if state.status != OPEN:
        return None
    panel = state.panel(panel)
    sheets = state.current_sheets()
    eligible = {m.id for m in panels.scoring_members(panel)} - state.recused
    submitted = set(sheets) & eligible
    if not panels.quorum_met(panel, set(state.recused), submitted):
        if closing:
            raise Refused(f"the quorum has not scored: {len(submitted)} of the "
                          f"{panels.quorum_needed(panel, set(state.recused))} sheets needed"
                          + (", the chair's included" if panel.quorum.chair_required else ""))
        return None
    if not closing and submitted != eligible:
        return None
    counted = {m: _marks(sheets[m]) for m in sorted(submitted)}
    result = aggregate(rulebook, rulebook.sheet(state.opened.sheet_id), state.opened.level, counted)
    rescoring_left = state.scoring_round <= panel.max_rescoring_rounds
    if result.spread > panel.spread_threshold and rescoring_left:
        if key is None:
            return RescoreRequested(scoring_round=state.scoring_round, totals=result.totals, spread=result.spread,
                                    threshold=panel.spread_threshold)
        sealed = sealing.seal(key, sealing.rescore_context(state.dossier_id, state.scoring_round),
                              {"totals": result.totals, "spread": result.spread})
        return RescoreRequested(scoring_round=state.scoring_round, threshold=panel.spread_threshold, sealed=sealed)
    return ScoringCompleted(
        dossier_id=state.dossier_id, round_id=state.opened.round_id, rulebook_id=rulebook.id,
        rulebook_version=rulebook.version, scoring_round=state.scoring_round,
        average_total=result.average_total, rounding=rulebook.rounding.describe(),
        part_averages=result.part_averages, totals=result.totals, outliers=result.outliers,
        band_stars=result.band_stars, stars=result.stars, passed=result.passed, rating_label=result.rating_label,
        mandatory=result.mandatory, recognised_at_level=result.recognised_at_level,
        goes_up_a_level=result.goes_up_a_level, spread=result.spread,
        spread_exceeded=result.spread > panel.spread_threshold,
        sealing_key=None if key is None else key.revealed())


def _marks(sheet: SheetOnRecord) -> dict[str, float]:
    if sheet.scores is None:
        raise sealing.Unsealable(f"sheet {sheet.sheet_id} is still sealed: unseal the dossier before aggregating")
    return sheet.scores


def decide(state: DossierScoring, decision: DecisionReference, rulebook: Rulebook
           ) -> ResultApproved | ResultNotRecognised:
    """The authority's decision on a completed dossier: approved when recognised here or sent up a level."""
    if state.status != COMPLETED or state.completed is None:
        raise Refused(f"cannot decide: scoring of this dossier is {state.status}", current_status=state.status)
    done = state.completed
    opened = state.opened
    rule = rulebook.level_rule(opened.level)
    if done["recognised_at_level"] or done["goes_up_a_level"]:
        return ResultApproved(
            dossier_id=state.dossier_id, round_id=opened.round_id, programme=opened.programme, level=opened.level,
            rulebook_id=opened.rulebook_id,
            rating=Rating(stars=done["stars"], recognised=done["recognised_at_level"], label=done["rating_label"]),
            points=done["average_total"], decision=decision, goes_up_a_level=done["goes_up_a_level"],
            next_level=rule.next_level if rule and done["goes_up_a_level"] else None,
            product_name=opened.product_name, producer_name=opened.producer_name,
            producer_address=opened.producer_address, province_code=opened.province_code,
            certificate_validity_months=rulebook.certificate_validity_months,
            producer_registration_number=opened.producer_registration_number)
    # the mandatory criteria that cost the product its band (for a star at or below the band; CNNTTB: all)
    band = done.get("band_stars")
    unmet = [m["label"] for m in done["mandatory"] if not m["met"]
             and (band is None or m["required_for_stars"] is None or m["required_for_stars"] <= band)]
    params: dict[str, Any] = {"points": done["average_total"], "rating_label": done["rating_label"],
                              "level": opened.level.value}
    if unmet:
        params["unmet_mandatory"] = unmet
    reason = (f"{done['rating_label']} ({points_vn(done['average_total'])} điểm) chưa đạt mức được công nhận ở cấp "
              f"{LEVEL_VN.get(opened.level.value, opened.level.value)}"
              + (f"; chưa đáp ứng tiêu chí bắt buộc: {', '.join(unmet)}" if unmet else ""))
    return ResultNotRecognised(
        dossier_id=state.dossier_id, round_id=opened.round_id, programme=opened.programme, level=opened.level,
        points=done["average_total"], rating_label=done["rating_label"], reason=reason,
        next_step="Hoàn thiện sản phẩm và hồ sơ, đăng ký tham gia đợt đánh giá sau.",
        decision=decision, product_name=opened.product_name, producer_name=opened.producer_name,
        producer_registration_number=opened.producer_registration_number,
        reason_code=NotRecognisedReason.MANDATORY_UNMET if unmet else NotRecognisedReason.BELOW_LEVEL,
        reason_params=params)


LEVEL_VN = {"commune": "xã", "district": "huyện", "province": "tỉnh", "region": "khu vực", "national": "quốc gia"}


def points_vn(points: float) -> str:
    """49.0 → '49,00': points the Vietnamese way."""
    return f"{points:.2f}".replace(".", ",")
