"""Rulebooks (bộ tiêu chí): one versioned data file per rule text, validated when loaded.

Every number the programmes' rules set (part maxima, criteria, allowed points, mandatory criteria, star bands,
pass marks, rounding, certificate validity, which ratings are recognised at which level and which go up) is
data here. Whatever no public source confirms is flagged ``provisional: true`` where it sits (a part, a sheet, a
criterion, a mandatory minimum, a star band, a level) with its ``basis``, and the rulebook then says
``provisional: true`` too; so a correction is an edit of the file, never of the code. A file is never edited in
place once used: a change is a new ``version`` (the old one moves to ``rulebooks/archive/`` and still loads, so
a dossier scored under it replays to the same result). See docs/adr/0008.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from binhchon_kit.contracts.common import Level, Programme
from binhchon_kit.contracts.scoring import Session


class UnknownSheet(LookupError):
    """An event names a sheet its rulebook does not have."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(Frozen):
    text: str
    urls: list[str] = []
    note: str = ""


class Sourced(Frozen):
    """What every figure of a rulebook may say about its footing: ``provisional`` when no public source confirms
    it (so a correction is expected), and ``basis``: where it comes from, or why it is only provisional."""

    provisional: bool = False
    basis: str = ""


class Part(Sourced):
    code: str
    label: str
    maximum: float = Field(gt=0)


class Mandatory(Sourced):
    """A criterion that must reach ``minimum`` (on the members' average) for a star, or for a pass."""

    for_stars: int | None = Field(default=None, ge=1, le=5, description="OCOP: needed for this star and above")
    minimum: float = Field(ge=0)


class Option(Frozen):
    """One answer a judge may pick on an official sheet, worded as the sheet words it."""

    points: float = Field(ge=0)
    label: str
    applies_to: str = Field(default="", description="when the sheet has separate option lists (e.g. by "
                                                    "type of producer): the list this option belongs to")


class GuidanceItem(Frozen):
    label: str
    suggested_points: float | None = Field(default=None, ge=0)


class Guidance(Frozen):
    """Help for the panel under a criterion. Never scored and never added up: the criterion gets one score."""

    label: str
    basis: str
    scored: Literal[False] = False
    items: list[GuidanceItem] = Field(min_length=1)


class Criterion(Sourced):
    code: str
    part: str
    group: str | None = Field(default=None, description="the sheet's criterion group (nhóm tiêu chí), if any")
    label: str
    maximum: float = Field(gt=0)
    options: list[Option] | None = Field(default=None, description="the sheet's answers, with their points")
    allowed: list[float] | None = Field(default=None, description="the only points a judge may give")
    session: Session = Session.DOSSIER
    mandatory: Mandatory | None = None
    guidance: list[Guidance] = []

    @model_validator(mode="before")
    @classmethod
    def _allowed_from_options(cls, data: Any) -> Any:
        # a sheet with worded options allows exactly their points; the file need not repeat them
        if isinstance(data, dict) and data.get("options") and data.get("allowed") is None:
            points = {float(o["points"]) if isinstance(o, dict) else o.points for o in data["options"]}
            data = {**data, "allowed": sorted(points)}
        return data

    @model_validator(mode="after")
    def _allowed_within_maximum(self) -> Criterion:
        if self.allowed is not None and (not self.allowed or max(self.allowed) > self.maximum or min(self.allowed) < 0):
            raise ValueError(f"criterion {self.code}: allowed points must lie within 0..{self.maximum}")
        if self.options is not None:
            points = sorted({o.points for o in self.options})
            if self.allowed is not None and sorted(set(self.allowed)) != points:
                raise ValueError(f"criterion {self.code}: allowed points {self.allowed} differ from its options' "
                                 f"{points}")
            if points and points[-1] != self.maximum:
                raise ValueError(f"criterion {self.code}: its best option gives {points[-1]}, not its maximum "
                                 f"{self.maximum}")
        return self

    def accepts(self, points: float) -> bool:
        if self.allowed is not None:
            return points in self.allowed
        return 0 <= points <= self.maximum and float(points * 2).is_integer()  # whole or half points


class CriterionGroup(Frozen):
    """A heading of a sheet (e.g. "Chỉ tiêu cảm quan", 18 points) grouping criteria within a part."""

    code: str
    part: str
    label: str
    maximum: float = Field(gt=0)


class Sheet(Sourced):
    id: str
    label: str
    groups: list[CriterionGroup] = []
    criteria: list[Criterion] = Field(min_length=1)


class ProductGroup(Frozen):
    code: str
    label: str
    sheet: str
    aliases: list[str] = Field(default=[], description="other spellings a dossier may use for this group")


class StarBand(Sourced):
    stars: int = Field(ge=1, le=5)
    minimum: float = Field(ge=0, le=100, description="lowest average total of this band (inclusive)")


class LevelRule(Sourced):
    """What a round at one level may decide: the ratings it recognises and those it sends up a level."""

    level: Level
    recognises: list[int] = Field(default=[], description="OCOP: star ratings recognised at this level")
    forwards: list[int] = Field(default=[], description="OCOP: star ratings sent to the next level")
    pass_mark: float | None = Field(default=None, description="CNNTTB: average total needed to pass")
    pass_mark_confirmed: bool = True
    forwards_passed: bool = Field(default=False, description="CNNTTB: a pass goes up to the next level")
    next_level: Level | None = None


class ProvisionalItem(Frozen):
    """One thing in a rulebook no public source confirms yet, and what it rests on."""

    where: str
    basis: str


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
    in_force_from: date | None = Field(default=None, description="when the rule text this version encodes applies")
    changes: str = Field(default="", description="what this version changed from the previous one, and why")
    evaluated_by_code: bool = Field(default=False, description="the judges evaluate a product by its selection code "
                                    "(mã số bình chọn), as the CNNTTB sheet's header does: their views show the "
                                    "code and the product, never the producer")

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
            problems += self._group_problems(sheet, parts)
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
        if not self.provisional and self.provisional_items():
            problems.append("parts of it are provisional, so the rulebook must say provisional: true")
        if problems:
            raise ValueError(f"rulebook {self.id} v{self.version}: " + "; ".join(problems))
        return self

    @staticmethod
    def _group_problems(sheet: Sheet, parts: dict[str, Part]) -> list[str]:
        problems: list[str] = []
        groups = {g.code: g for g in sheet.groups}
        if len(groups) != len(sheet.groups):
            problems.append(f"sheet {sheet.id}: a group code appears twice")
        problems += [f"sheet {sheet.id}: group {g.code} names unknown part {g.part}"
                     for g in sheet.groups if g.part not in parts]
        for c in sheet.criteria:
            if c.group is None:
                continue
            if c.group not in groups:
                problems.append(f"sheet {sheet.id}: criterion {c.code} names unknown group {c.group}")
            elif groups[c.group].part != c.part:
                problems.append(f"sheet {sheet.id}: criterion {c.code} is in part {c.part} but its group "
                                f"{c.group} in part {groups[c.group].part}")
        for group in sheet.groups:
            total = sum(c.maximum for c in sheet.criteria if c.group == group.code)
            if abs(total - group.maximum) > 1e-9:
                problems.append(f"sheet {sheet.id}: group {group.code} criteria add up to {total}, "
                                f"not {group.maximum}")
        return problems

    def provisional_items(self) -> list[ProvisionalItem]:
        """Everything no public source confirms yet, at the finest grain the file says it, with its basis.

        A file that flags nothing finer but says ``provisional: true`` (the first versions) is provisional as a
        whole: its first item is ``rulebook``."""
        fallback = self.source.note or self.source.text
        items: list[ProvisionalItem] = []

        def add(where: str, *bases: str) -> None:
            items.append(ProvisionalItem(where=where, basis=next((b for b in bases if b), fallback)))

        for part in self.parts:
            if part.provisional:
                add(f"parts/{part.code}", part.basis)
        for sheet in self.sheets:
            if sheet.provisional:
                add(f"sheets/{sheet.id}", sheet.basis)
            for c in sheet.criteria:
                if c.provisional:
                    add(f"sheets/{sheet.id}/criteria/{c.code}", c.basis, sheet.basis)
                if c.mandatory is not None and c.mandatory.provisional:
                    add(f"sheets/{sheet.id}/criteria/{c.code}/mandatory", c.mandatory.basis, c.basis)
        for band in sorted(self.star_bands, key=lambda b: b.stars):
            if band.provisional:
                add(f"star_bands/{band.stars}", band.basis)
        for rule in self.levels:
            if rule.provisional or not rule.pass_mark_confirmed:
                add(f"levels/{rule.level.value}", rule.basis)
        flagged = [*self.parts, *self.sheets, *(c for s in self.sheets for c in s.criteria),
                   *(c.mandatory for s in self.sheets for c in s.criteria if c.mandatory), *self.star_bands,
                   *self.levels]
        if self.provisional and not any(f.provisional for f in flagged):
            items.insert(0, ProvisionalItem(where="rulebook", basis=fallback))
        return items

    # ---- look-ups ----------------------------------------------------------------------------------------

    def sheet_for(self, product_group: str) -> Sheet | None:
        wanted = product_group.casefold().strip()
        for group in self.product_groups:
            if wanted in (group.code.casefold(), group.label.casefold(), *(a.casefold() for a in group.aliases)):
                return next(s for s in self.sheets if s.id == group.sheet)
        return None

    def sheet(self, sheet_id: str) -> Sheet:
        """The sheet of that id; ``UnknownSheet`` if this rulebook has none (only a forged or altered event names
        one: scoring opens a dossier with a sheet of its rulebook)."""
        found = self.find_sheet(sheet_id)
        if found is None:
            raise UnknownSheet(f"{self.id} v{self.version} has no sheet {sheet_id!r}")
        return found

    def find_sheet(self, sheet_id: str) -> Sheet | None:
        return next((s for s in self.sheets if s.id == sheet_id), None)

    def level_rule(self, level: Level) -> LevelRule | None:
        return next((lr for lr in self.levels if lr.level == level), None)

    def band(self, average_total: float) -> int:
        """The star band of an average total: the highest band whose minimum it reaches (minimum inclusive)."""
        reached = [b.stars for b in self.star_bands if average_total >= b.minimum]
        return max(reached)
