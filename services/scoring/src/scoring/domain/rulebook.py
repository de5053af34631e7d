"""Rulebooks (bộ tiêu chí): one versioned data file per rule text, validated when loaded.

Every number the programmes' rules set (part maxima, criteria, allowed points, mandatory criteria, star bands,
pass marks, rounding, certificate validity, which ratings are recognised at which level and which go up) is
data here. A rulebook whose official per-criterion table we do not have says ``provisional: true`` and names
its source, so a correction is an edit of the file (and a new version), never of the code.
"""

from __future__ import annotations

import itertools
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from binhchon_kit.contracts.common import Level, Programme
from binhchon_kit.contracts.scoring import Session


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(Frozen):
    text: str
    urls: list[str] = []
    note: str = ""


class Part(Frozen):
    code: str
    label: str
    maximum: float = Field(gt=0)


class Mandatory(Frozen):
    """A criterion that must reach ``minimum`` (on the members' average) for a star, or for a pass."""

    for_stars: int | None = Field(default=None, ge=1, le=5, description="OCOP: needed for this star and above")
    minimum: float = Field(ge=0)


class Criterion(Frozen):
    code: str
    part: str
    label: str
    maximum: float = Field(gt=0)
    allowed: list[float] | None = Field(default=None, description="the only points a judge may give")
    session: Session = Session.DOSSIER
    mandatory: Mandatory | None = None

    @model_validator(mode="after")
    def _allowed_within_maximum(self) -> Criterion:
        if self.allowed is not None and (not self.allowed or max(self.allowed) > self.maximum or min(self.allowed) < 0):
            raise ValueError(f"criterion {self.code}: allowed points must lie within 0..{self.maximum}")
        return self

    def accepts(self, points: float) -> bool:
        if self.allowed is not None:
            return points in self.allowed
        return 0 <= points <= self.maximum and float(points * 2).is_integer()  # whole or half points


class Sheet(Frozen):
    id: str
    label: str
    criteria: list[Criterion] = Field(min_length=1)


class ProductGroup(Frozen):
    code: str
    label: str
    sheet: str


class StarBand(Frozen):
    stars: int = Field(ge=1, le=5)
    minimum: float = Field(ge=0, le=100, description="lowest average total of this band (inclusive)")


class LevelRule(Frozen):
    """What a round at one level may decide: the ratings it recognises and those it sends up a level."""

    level: Level
    recognises: list[int] = Field(default=[], description="OCOP: star ratings recognised at this level")
    forwards: list[int] = Field(default=[], description="OCOP: star ratings sent to the next level")
    pass_mark: float | None = Field(default=None, description="CNNTTB: average total needed to pass")
    pass_mark_confirmed: bool = True
    forwards_passed: bool = Field(default=False, description="CNNTTB: a pass goes up to the next level")
    next_level: Level | None = None


class RoundingMode(StrEnum):
    HALF_UP = "half_up"
    HALF_EVEN = "half_even"


class Rounding(Frozen):
    decimals: int = Field(ge=0, le=4)
    mode: RoundingMode = RoundingMode.HALF_UP

    def apply(self, value: float | Decimal) -> float:
        quantum = Decimal(1).scaleb(-self.decimals)
        mode = ROUND_HALF_UP if self.mode is RoundingMode.HALF_UP else ROUND_HALF_EVEN
        return float(Decimal(str(value)).quantize(quantum, rounding=mode))

    def describe(self) -> str:
        return f"the average total is rounded once, {self.mode.value.replace('_', ' ')}, to {self.decimals} decimals"


class Rulebook(Frozen):
    id: str
    version: int = Field(ge=1)
    title: str
    programme: Programme
    source: Source
    provisional: bool
    parts: list[Part]
    sheets: list[Sheet]
    product_groups: list[ProductGroup]
    star_bands: list[StarBand] = []
    levels: list[LevelRule]
    rounding: Rounding
    certificate_validity_months: int | None = None
    outlier_points: Annotated[float, Field(gt=0)] = 10

    @model_validator(mode="after")
    def _consistent(self) -> Rulebook:
        problems: list[str] = []
        parts = {p.code: p for p in self.parts}
        if abs(sum(p.maximum for p in self.parts) - 100) > 1e-9:
            problems.append(f"parts add up to {sum(p.maximum for p in self.parts)}, not 100")
        for sheet in self.sheets:
            codes = [c.code for c in sheet.criteria]
            if len(codes) != len(set(codes)):
                problems.append(f"sheet {sheet.id}: a criterion code appears twice")
            for code, part in parts.items():
                total = sum(c.maximum for c in sheet.criteria if c.part == code)
                if abs(total - part.maximum) > 1e-9:
                    problems.append(f"sheet {sheet.id}: part {code} criteria add up to {total}, not {part.maximum}")
            problems += [f"sheet {sheet.id}: criterion {c.code} names unknown part {c.part}"
                         for c in sheet.criteria if c.part not in parts]
        sheets = {s.id for s in self.sheets}
        problems += [f"product group {g.code} uses unknown sheet {g.sheet}" for g in self.product_groups
                     if g.sheet not in sheets]
        if self.programme is Programme.OCOP:
            bands = sorted(self.star_bands, key=lambda b: b.stars)
            if [b.stars for b in bands] != [1, 2, 3, 4, 5] or bands[0].minimum != 0:
                problems.append("OCOP star bands must be 1..5, the 1-star band starting at 0")
            elif any(a.minimum >= b.minimum for a, b in itertools.pairwise(bands)):
                problems.append("star band minima must rise with the stars")
        else:
            problems += [f"level {lr.level} has no pass mark" for lr in self.levels if lr.pass_mark is None]
        if problems:
            raise ValueError(f"rulebook {self.id} v{self.version}: " + "; ".join(problems))
        return self

    # ---- look-ups ----------------------------------------------------------------------------------------

    def sheet_for(self, product_group: str) -> Sheet | None:
        wanted = product_group.casefold().strip()
        for group in self.product_groups:
            if wanted in (group.code.casefold(), group.label.casefold()):
                return next(s for s in self.sheets if s.id == group.sheet)
        return None

    def sheet(self, sheet_id: str) -> Sheet:
        return next(s for s in self.sheets if s.id == sheet_id)

    def level_rule(self, level: Level) -> LevelRule | None:
        return next((lr for lr in self.levels if lr.level == level), None)

    def band(self, average_total: float) -> int:
        """The star band of an average total: the highest band whose minimum it reaches (minimum inclusive)."""
        reached = [b.stars for b in self.star_bands if average_total >= b.minimum]
        return max(reached)
