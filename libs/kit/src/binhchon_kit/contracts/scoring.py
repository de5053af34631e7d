"""Events the scoring service writes to ``scoring.events``.

Panel and proposal events have the round id as subject; every other event the dossier id (a substitute member,
added for one dossier, is a dossier event). ``result.approved``
carries what intake (escalation) and certification (issuing) need: event-carried state transfer.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from binhchon_kit.contracts.common import (
    Code,
    DecisionReference,
    Level,
    LongText,
    Programme,
    RegistrationNumber,
    Text,
    Value,
)
from binhchon_kit.contracts.registry import EventData, registered
from binhchon_kit.personal import SealedCopy

TOPIC = "scoring.events"


class MemberRole(StrEnum):
    CHAIR = "chair"
    MEMBER = "member"
    SECRETARY = "secretary"  # keeps the minutes; does not score


class PanelMember(Value):
    id: Text = Field(description="the member's token subject")
    name: Text
    organisation: Text
    role: MemberRole
    email: Text | None = Field(default=None, description="where notify sends assignments and reminders")


class Quorum(Value):
    fraction: float = Field(default=0.75, gt=0, le=1, description="share of scoring members whose sheets count")
    chair_required: bool = True


class Session(StrEnum):
    DOSSIER = "dossier"
    SAMPLES = "samples"
    FIELD_VISIT = "field_visit"


@registered("panel.formed", topic=TOPIC)
class PanelFormed(EventData):
    """The council (hội đồng) or jury (ban giám khảo) of a round was formed, with its rules."""

    panel_id: str
    round_id: str
    name: Text
    members: list[PanelMember] = Field(min_length=1)
    quorum: Quorum
    sessions: list[Session] = Field(min_length=1)
    spread_threshold: float = Field(default=10, gt=0, le=100, description="points between totals before re-scoring")
    max_rescoring_rounds: int = Field(default=2, ge=0, le=5)


@registered("panel.member_substituted", topic=TOPIC)
class MemberSubstituted(EventData):
    """A substitute member joined the panel for one dossier, in place of a member recused from it: the chair or
    the secretariat decided, with the reason. The substitute scores that dossier as a member.

    Recorded on the dossier's scoring stream (subject: the dossier id), after its ``judge.recused``."""

    dossier_id: str
    round_id: str
    panel_id: str
    substitute: PanelMember = Field(description="the new member, role member")
    replaces: Text = Field(description="the id of the recused member the substitute stands in for")
    reason: Text


@registered("scoring.opened", topic=TOPIC, schema_version=2)
class ScoringOpened(EventData):
    """An accepted dossier became scorable against its rulebook's score sheet.

    v2: the name and registration number of a household business are the sealed copies its dossier.received v3
    made (``SealedCopy``, ADR 0048), opened with the producer's key where they are shown.
    """

    dossier_id: str
    round_id: str
    programme: Programme
    level: Level
    rulebook_id: Code
    rulebook_version: int
    sheet_id: Code
    product_group: Text
    product_name: Text
    producer_name: SealedCopy | Text
    sample_code: Code
    producer_address: Text | None = None
    province_code: Code | None = None
    producer_registration_number: SealedCopy | RegistrationNumber | None = Field(
        default=None, description="the producer's identity (names are never identity)")


class NotOpenedReason(StrEnum):
    """Why an accepted dossier could not be opened for scoring (its parameters are in ``reason_params``)."""

    LEVEL_NOT_IN_RULEBOOK = "level_not_in_rulebook"
    """the round's level is not one of the rulebook's (params: level, levels)"""
    PRODUCT_GROUP_NOT_IN_RULEBOOK = "product_group_not_in_rulebook"
    """the dossier's product group has no sheet in the rulebook (params: product_group, product_groups)"""
    PROGRAMME_MISMATCH = "programme_mismatch"
    """the rulebook is for another programme (params: programme, rulebook_programme)"""
    RULEBOOK_UNKNOWN = "rulebook_unknown"
    """scoring has no rulebook of that id (params: rulebook_id)"""


@registered("scoring.not_opened", topic=TOPIC, schema_version=2)
class ScoringNotOpened(EventData):
    """An accepted dossier could not be opened for scoring: no judge can score it as its round stands. Recorded
    on the dossier's scoring stream (in place of ``scoring.opened``) so the secretariat sees why, in the round's
    dossier list and on the topic; the reason is a code with parameters (the sentence is made where it is read).

    v2: the name and registration number of a household business are the sealed copies its dossier.received v3
    made (``SealedCopy``, ADR 0048), opened with the producer's key where they are shown.
    """

    dossier_id: str
    round_id: str
    programme: Programme
    level: Level
    rulebook_id: Code
    rulebook_version: int | None = Field(description="the version the round is scored under; none: no such rulebook")
    product_group: Text
    product_name: Text
    producer_name: SealedCopy | Text
    sample_code: Code
    reason_code: NotOpenedReason
    reason_params: dict[str, Any] = Field(default_factory=dict)
    producer_registration_number: SealedCopy | RegistrationNumber | None = None


@registered("scoring.cancelled", topic=TOPIC)
class ScoringCancelled(EventData):
    """The producer withdrew the dossier: scoring stops, the sheets already given stay on record."""

    reason: Text
    sheets_on_record: int = Field(ge=0)


@registered("judge.recused", topic=TOPIC)
class JudgeRecused(EventData):
    """A panel member declared a conflict of interest for a dossier and is recused from it."""

    member_id: Text
    reason: Text


class CriterionScore(Value):
    code: Code
    points: float = Field(ge=0, le=100)


class SealedMarks(Value):
    """What a judge wrote on a sheet (each criterion's points, the total, the comment or the amendment's reason),
    or a re-scoring's totals and spread, encrypted until the dossier's scoring completes (ADR 0036).

    AES-256-GCM under the dossier's sealing key, the same key for every sheet of the dossier; the associated data
    is the RFC 8785 JSON of ``{"dossier_id", "type", "sheet_id", "member_id", "scoring_round"}`` (a re-scoring:
    ``{"dossier_id", "type", "scoring_round"}``), so a ciphertext opens only where it was recorded. The key is
    published in clear in the dossier's ``scoring.completed`` (``sealing_key``); a withdrawn dossier's never is."""

    alg: Literal["A256GCM"] = "A256GCM"
    kid: Code = Field(description="the id of scoring's sealing master key the dossier's key derives from")
    key_digest: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the bytes 'binhchon sealed sheets "
                            "v1', a zero byte and the dossier's key: commits to the key revealed at completion")
    nonce: str = Field(pattern=r"^[A-Za-z0-9_-]{16}$", description="96 bits, base64url without padding")
    ciphertext: str = Field(pattern=r"^[A-Za-z0-9_-]+$", max_length=20000,
                            description="the RFC 8785 JSON of the marks, encrypted, with its 128-bit tag; "
                            "base64url without padding")


def _sealed_or_clear(sealed: SealedMarks | None, clear: dict[str, Any], needed: tuple[str, ...]) -> None:
    """A v2 event carries its marks sealed and none in clear; a v1 event (recorded before ADR 0036) in clear."""
    shown = [k for k, v in clear.items() if v not in (None, "")]
    if sealed is not None and shown:
        raise ValueError(f"marks both sealed and in clear ({', '.join(shown)})")
    if sealed is None and (missing := [k for k in needed if clear.get(k) is None]):
        raise ValueError(f"marks neither sealed nor in clear (no {', '.join(missing)})")


_V1_ONLY = "v1 only (recorded before ADR 0036): in clear; a v2 event has it inside ``sealed``"


@registered("score.submitted", topic=TOPIC, schema_version=2)
class ScoreSubmitted(EventData):
    """A judge's score sheet (phiếu chấm điểm), final once submitted.

    v2: the marks are sealed (``sealed``: the scores, total and comment encrypted until the dossier's scoring
    completes, ADR 0036); who scored, in which scoring round, stays in clear. A v1 event reads as recorded, its
    marks in clear and no ``sealed``."""

    sheet_id: str
    member_id: Text
    scoring_round: int = Field(ge=1, description="1, then 2… after each re-scoring request")
    rulebook_id: Code
    rulebook_version: int
    score_sheet: Code
    sealed: SealedMarks | None = Field(default=None, description="the marks: {scores, total, comment}, sealed")
    scores: list[CriterionScore] | None = Field(default=None, description=_V1_ONLY)
    total: float | None = Field(default=None, description=_V1_ONLY)
    comment: LongText = Field(default="", description=_V1_ONLY)

    @model_validator(mode="after")
    def _marks(self) -> ScoreSubmitted:
        _sealed_or_clear(self.sealed, {"scores": self.scores, "total": self.total, "comment": self.comment},
                         ("scores", "total"))
        return self


@registered("score.amended", topic=TOPIC, schema_version=2)
class ScoreAmended(EventData):
    """A judge replaced their sheet before scoring completed, with the reason; the first sheet stays on record.

    v2: the marks and the reason are sealed, as in ``score.submitted`` v2. A v1 event reads as recorded."""

    sheet_id: str
    amends_sheet_id: str
    member_id: Text
    scoring_round: int = Field(ge=1)
    rulebook_id: Code
    rulebook_version: int
    score_sheet: Code
    sealed: SealedMarks | None = Field(default=None, description="the marks: {scores, total, reason}, sealed")
    scores: list[CriterionScore] | None = Field(default=None, description=_V1_ONLY)
    total: float | None = Field(default=None, description=_V1_ONLY)
    reason: Text | None = Field(default=None, description=_V1_ONLY)

    @model_validator(mode="after")
    def _marks(self) -> ScoreAmended:
        _sealed_or_clear(self.sealed, {"scores": self.scores, "total": self.total, "reason": self.reason},
                         ("scores", "total", "reason"))
        return self


@registered("scoring.rescore_requested", topic=TOPIC, schema_version=2)
class RescoreRequested(EventData):
    """Members' totals differ by more than the panel's threshold: discuss and score again.

    v2: the members' totals and their spread are sealed with the dossier's sheets (ADR 0036). A v1 event reads as
    recorded."""

    scoring_round: int = Field(ge=1, description="the round whose sheets were too far apart")
    threshold: float
    sealed: SealedMarks | None = Field(default=None, description="{totals, spread}, sealed")
    totals: dict[str, float] | None = Field(default=None, description=_V1_ONLY)
    spread: float | None = Field(default=None, description=_V1_ONLY)

    @model_validator(mode="after")
    def _marks(self) -> RescoreRequested:
        _sealed_or_clear(self.sealed, {"totals": self.totals, "spread": self.spread}, ("totals", "spread"))
        return self


class PartAverage(Value):
    code: Code
    label: Text
    average: float
    maximum: float


class MandatoryOutcome(Value):
    code: Code
    label: Text
    required_for_stars: int | None = None
    average: float
    minimum: float
    met: bool


@registered("scoring.completed", topic=TOPIC, schema_version=2)
class ScoringCompleted(EventData):
    """The quorum scored and the spread rule held: the dossier's result as the rulebook computes it.

    v2: ``sealing_key``, the dossier's sealing key in clear: the seal of its sheets is broken at completion, so
    anyone reading the topic can open them and recompute this result (ADR 0036). A v1 event has none."""

    dossier_id: str
    round_id: str
    rulebook_id: Code
    rulebook_version: int
    scoring_round: int
    average_total: float = Field(description="mean of the counted totals, rounded once by the rulebook's rule")
    rounding: Text
    part_averages: list[PartAverage]
    totals: dict[str, float] = Field(description="each counted member's total")
    outliers: list[str] = Field(description="members whose total is far from the others'")
    band_stars: int | None = Field(default=None, description="OCOP: the star band of the average alone")
    stars: int | None = Field(default=None, description="OCOP: the band, lowered until its mandatory criteria hold")
    passed: bool | None = Field(default=None, description="CNNTTB: at or above the level's pass mark")
    rating_label: Text
    mandatory: list[MandatoryOutcome]
    recognised_at_level: bool
    goes_up_a_level: bool
    spread: float
    spread_exceeded: bool = Field(
        description="completed after the last allowed re-scoring with the spread still too wide")
    sealing_key: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{43}$", description="the dossier's sealing key (256 bits, base64url "
        "without padding), revealed: it opens every sealed sheet and re-scoring of the dossier, and its SHA-256 "
        "(as SealedMarks.key_digest says) is the digest they committed to")


class NotRecognisedReason(StrEnum):
    BELOW_LEVEL = "below_level"
    """the rating is below what the level recognises (params: points, rating_label, level)"""
    MANDATORY_UNMET = "mandatory_unmet"
    """a mandatory criterion was not met (params as below_level, plus unmet_mandatory: the criteria's labels)"""


class ProposalRow(Value):
    rank: int
    dossier_id: str
    product_name: Text
    producer_name: SealedCopy | Text
    average_total: float
    rating_label: Text
    stars: int | None = None
    passed: bool | None = None
    recognised_at_level: bool
    goes_up_a_level: bool


@registered("result.proposed", topic=TOPIC, schema_version=2)
class ResultProposed(EventData):
    """The council chair proposed the round's results table (bảng tổng hợp kết quả chấm điểm).

    v2: the rows' names of a household business are the sealed copies its dossier.received v3 made
    (``SealedCopy``, ADR 0048), opened with the producer's key where they are shown.
    """

    proposal_id: str
    round_id: str
    rows: list[ProposalRow]


class Rating(Value):
    stars: int | None = Field(default=None, ge=1, le=5, description="OCOP star rating")
    recognised: bool = Field(description="recognised at this level by this decision")
    label: Text = Field(description="what people read, e.g. '4 sao' or 'Đạt'")


@registered("result.approved", topic=TOPIC, schema_version=3)
class ResultApproved(EventData):
    """The competent authority approved a dossier's result with a decision (quyết định công nhận).

    v2: ``decision.authority_id``, the round's approving authority (ADR 0029); a v1 event reads with none.

    v3: the name and registration number of a household business are the sealed copies its dossier.received v3
    made (``SealedCopy``, ADR 0048), opened with the producer's key where they are shown.
    """

    dossier_id: str
    round_id: str
    programme: Programme
    level: Level
    rulebook_id: Code
    rating: Rating
    points: float = Field(ge=0, le=100)
    decision: DecisionReference
    goes_up_a_level: bool = Field(description="the rulebook sends this rating to the next level's round")
    next_level: Level | None = None
    product_name: Text
    producer_name: SealedCopy | Text
    producer_address: Text | None = None
    province_code: Code | None = None
    certificate_validity_months: int | None = Field(default=None, description="from the rulebook; none: no end")
    producer_registration_number: SealedCopy | RegistrationNumber | None = Field(
        default=None, description="the producer's identity (names are never identity)")


@registered("result.not_recognised", topic=TOPIC, schema_version=3)
class ResultNotRecognised(EventData):
    """The authority's decision did not recognise the dossier's product, with the reason and the next step.

    v2: ``decision.authority_id``, the round's approving authority (ADR 0029); a v1 event reads with none.

    v3: the name and registration number of a household business are the sealed copies its dossier.received v3
    made (``SealedCopy``, ADR 0048), opened with the producer's key where they are shown.
    """

    dossier_id: str
    round_id: str
    programme: Programme
    level: Level
    points: float
    rating_label: Text
    reason: Text = Field(description="the reason in Vietnamese, for people; integrators read reason_code")
    next_step: Text
    decision: DecisionReference
    product_name: Text
    producer_name: SealedCopy | Text
    producer_registration_number: SealedCopy | RegistrationNumber | None = Field(
        default=None, description="the producer's identity (names are never identity)")
    reason_code: NotRecognisedReason | None = Field(
        default=None, description="why, machine-readable; its parameters are in reason_params")
    reason_params: dict[str, Any] = Field(
        default_factory=dict, description="e.g. {'points': 49.0, 'rating_label': '2 sao', 'level': 'district', "
                                          "'unmet_mandatory': ['...']}")

