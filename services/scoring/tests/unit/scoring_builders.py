"""Builders for scoring's domain tests: rulebooks, panels, score sheets, and a dossier's scoring events as the
store records them (after intake's ``dossier_builders``)."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import yaml

from binhchon_kit.canonical import GENESIS_HASH, chain_hash
from binhchon_kit.contracts.common import DecisionReference, Level
from binhchon_kit.contracts.registry import EventData, registration_of
from binhchon_kit.contracts.scoring import (
    MemberRole,
    PanelFormed,
    PanelMember,
    Quorum,
    RescoreRequested,
    ResultApproved,
    ResultNotRecognised,
    ScoreAmended,
    ScoreSubmitted,
    ScoringCompleted,
    Session,
)
from binhchon_kit.envelope import utc_now
from binhchon_kit.events import Actor, RecordedEvent, hashed_content
from scoring.adapters.rulebooks import BUNDLED, Rulebooks
from scoring.domain import scoring, sealing
from scoring.domain.rulebook import Rulebook, Sheet
from scoring.domain.sealing import DossierKey, derive

RULEBOOK_IDS = ("ocop-2019", "ocop-2023", "ocop-2025", "cnnttb-2018", "cnnttb-2025")
SECRETARIAT = Actor("secretariat-1", ("secretariat",))
TEST_MASTER = bytes(range(32))  # the sealing master key of the domain tests (ADR 0036)

# ---- rulebooks ------------------------------------------------------------------------------------------

@functools.cache
def rulebooks() -> Rulebooks:
    return Rulebooks.load()


def rulebook(rulebook_id: str) -> Rulebook:
    book = rulebooks().current(rulebook_id)
    assert book is not None, rulebook_id
    return book


def rulebook_dict(rulebook_id: str) -> dict[str, Any]:
    """The bundled file as a fresh dict, to modify and validate again."""
    data = yaml.safe_load((BUNDLED / f"{rulebook_id}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def scored_in(*sessions: Session, rulebook_id: str = "ocop-2025", new_id: str = "sessions-test") -> Rulebook:
    """A bundled rulebook whose first criteria are scored in ``sessions`` (one each) and every other one on the
    dossier: a panel's sessions are checked against it whatever the bundled files say."""
    book = rulebook(rulebook_id)
    sheets = []
    for sheet in book.sheets:
        criteria = [c.model_copy(update={"session": sessions[n] if n < len(sessions) else Session.DOSSIER})
                    for n, c in enumerate(sheet.criteria)]
        sheets.append(sheet.model_copy(update={"criteria": criteria}))
    return book.model_copy(update={"id": new_id, "sheets": sheets})


def general(rulebook_id: str) -> Sheet:
    return rulebook(rulebook_id).sheet("general")


# ---- score sheets ---------------------------------------------------------------------------------------

def full(sheet: Sheet, **lower: float) -> dict[str, float]:
    """A sheet at every criterion's maximum, then the named criteria lowered (``C4=4``; dots as ``_``)."""
    points = {c.code: c.maximum for c in sheet.criteria}
    for name, value in lower.items():
        code = name.replace("_", ".")
        assert code in points, code
        points[code] = value
    return points


def with_total(sheet: Sheet, wanted: float, **fixed: float) -> dict[str, float]:
    """A valid sheet adding up to ``wanted``: ``fixed`` criteria set first, then the free criteria (no allowed
    list, not mandatory) lowered in order until the total is reached."""
    points = full(sheet, **fixed)
    fixed_codes = {name.replace("_", ".") for name in fixed}
    deficit = sum(points.values()) - wanted
    assert deficit >= 0 and (deficit * 2).is_integer(), (wanted, deficit)
    for criterion in sheet.criteria:
        if deficit == 0:
            break
        if criterion.allowed is not None or criterion.mandatory is not None or criterion.code in fixed_codes:
            continue
        cut = min(deficit, points[criterion.code])
        points[criterion.code] -= cut
        deficit -= cut
    assert deficit == 0, f"cannot reach {wanted} on sheet {sheet.id} with {fixed}"
    return points


# ---- panels ---------------------------------------------------------------------------------------------

def member(id_: str, role: MemberRole = MemberRole.MEMBER) -> PanelMember:
    return PanelMember(id=id_, name=f"Thành viên {id_}", organisation="Sở Nông nghiệp và Môi trường", role=role)


def panel(scoring_members: int = 5, *, secretary: bool = True, fraction: float = 0.75, chair_required: bool = True,
          spread_threshold: float = 10, max_rescoring_rounds: int = 2, round_id: str = "round-1") -> PanelFormed:
    """A chair (``chair``), ``scoring_members - 1`` members (``m1``…) and optionally a secretary (``sec``)."""
    members = [member("chair", MemberRole.CHAIR)]
    members += [member(f"m{n}") for n in range(1, scoring_members)]
    if secretary:
        members.append(member("sec", MemberRole.SECRETARY))
    return PanelFormed(panel_id=f"panel-{round_id}", round_id=round_id, name="Hội đồng đánh giá, phân hạng OCOP",
                       members=members, quorum=Quorum(fraction=fraction, chair_required=chair_required),
                       sessions=[Session.DOSSIER, Session.SAMPLES], spread_threshold=spread_threshold,
                       max_rescoring_rounds=max_rescoring_rounds)


def scorer_ids(panel_: PanelFormed) -> list[str]:
    return [m.id for m in panel_.members if m.role is not MemberRole.SECRETARY]


def decision(number: str = "123/QĐ-UBND") -> DecisionReference:
    return DecisionReference(number=number, date=date(2026, 7, 1), signer="Nguyễn Văn A",
                             authority="UBND tỉnh Bắc Giang")


# ---- events as the store records them -------------------------------------------------------------------

def recorded(stream: str, version: int, prev_hash: str, data: EventData,
             actor: Actor = SECRETARIAT) -> RecordedEvent:
    """A decided event as EventStore.append records it (``data`` dumped as JSON, hashed into the chain)."""
    registration = registration_of(type(data))
    type_ = registration.type
    fields: dict[str, Any] = dict(
        id=f"{stream}-{version}", stream=stream, version=version, type=type_,
        schema_version=registration.schema_version, subject=stream, time=utc_now(),
        data=data.model_dump(mode="json"), actor=actor, correlation_id=f"corr-{stream}",
        causation_id=f"request-{version}", source="scoring",
    )
    return RecordedEvent(**fields, prev_hash=prev_hash, hash=chain_hash(prev_hash, hashed_content(**fields)))


def accepted(rulebook_: Rulebook, level: Level | str, product_group: str = "thực phẩm") -> dict[str, Any]:
    """What intake's ``dossier.accepted`` carries (as JSON), for ``open_scoring``."""
    return {"round_id": "round-1", "rulebook_id": rulebook_.id, "programme": rulebook_.programme.value,
            "level": Level(level).value, "product_group": product_group, "sample_code": "MAU-001",
            "result_due_date": None, "product_name": "Mật ong rừng Lục Nam",
            "producer_name": "Hợp tác xã Nông nghiệp Đông Hưng"}


class ScoringHistory:
    """One dossier's scoring: its recorded events, folded with ``evolve`` as they come, and the decisions."""

    def __init__(self, rulebook_: Rulebook, level: Level | str, panel_: PanelFormed | None = None, *,
                 product_group: str | None = None, dossier_id: str = "dossier-1") -> None:
        self.rulebook = rulebook_
        self.panel = panel_ or panel()
        self.stream = dossier_id
        self.events: list[RecordedEvent] = []
        self.state: scoring.DossierScoring | None = None
        group = product_group or rulebook_.product_groups[0].label
        self.record(scoring.open_scoring(accepted(rulebook_, level, group), dossier_id, rulebook_))

    @property
    def key(self) -> DossierKey:
        return derive(TEST_MASTER, "test", self.stream)

    @property
    def dossier(self) -> scoring.DossierScoring:
        """The dossier as the service's commands see it: folded, then its sealed sheets opened with its key."""
        assert self.state is not None
        return scoring.unsealed(self.state, self.key)

    @property
    def sheet(self) -> Sheet:
        return self.rulebook.sheet(self.dossier.opened.sheet_id)

    def marks(self, data: ScoreSubmitted | ScoreAmended | RescoreRequested) -> dict[str, Any]:
        """What a sealed event holds, opened with the dossier's key as the service opens it."""
        assert data.sealed is not None
        if isinstance(data, RescoreRequested):
            context = sealing.rescore_context(self.stream, data.scoring_round)
        else:
            context = sealing.sheet_context(self.stream, registration_of(type(data)).type, data.sheet_id,
                                            data.member_id, data.scoring_round)
        return sealing.unseal(self.key, context, data.sealed)

    def record(self, data: EventData, actor: Actor = SECRETARIAT) -> scoring.DossierScoring:
        prev_hash = self.events[-1].hash if self.events else GENESIS_HASH
        event = recorded(self.stream, len(self.events) + 1, prev_hash, data, actor)
        self.events.append(event)
        self.state = scoring.evolve(self.state, event)
        assert self.state is not None
        return self.state

    # decisions, recorded
    def recuse(self, member_id: str, reason: str = "người thân của chủ thể") -> scoring.DossierScoring:
        return self.record(scoring.recuse(self.dossier, self.panel, member_id, reason))

    def substitute(self, new_member: PanelMember, replaces: str, reason: str = "thay thế thành viên xin rút"
                   ) -> scoring.DossierScoring:
        return self.record(scoring.substitute(self.dossier, self.panel, new_member, replaces, reason))

    def submit(self, member_id: str, scores: dict[str, float], comment: str = "") -> scoring.DossierScoring:
        return self.record(scoring.submit(self.dossier, self.panel, self.rulebook, member_id, scores, comment,
                                          self.key))

    def amend(self, member_id: str, scores: dict[str, float], reason: str = "nhầm điểm") -> scoring.DossierScoring:
        return self.record(scoring.amend(self.dossier, self.panel, self.rulebook, member_id, scores, reason,
                                         self.key))

    def evaluate(self, *, closing: bool = False) -> RescoreRequested | ScoringCompleted | None:
        return scoring.evaluate(self.dossier, self.panel, self.rulebook, closing=closing, key=self.key)

    def evaluate_and_record(self, *, closing: bool = False) -> RescoreRequested | ScoringCompleted | None:
        outcome = self.evaluate(closing=closing)
        if outcome is not None:
            self.record(outcome)
        return outcome

    def submit_all(self, totals: dict[str, float] | list[float], **fixed: float) -> None:
        """Every listed member (or the scoring members in order) submits a sheet with the given total."""
        if isinstance(totals, list):
            totals = dict(zip(scorer_ids(self.panel), totals, strict=False))
        for member_id, wanted in totals.items():
            self.submit(member_id, with_total(self.sheet, wanted, **fixed))

    def decide(self, reference: DecisionReference | None = None) -> ResultApproved | ResultNotRecognised:
        return scoring.decide(self.dossier, reference or decision(), self.rulebook)
