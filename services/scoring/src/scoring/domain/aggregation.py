"""From the counted score sheets to a result, exactly as the rulebook says.

- The product's score is the mean of the members' totals (provincial council rules, DOMAIN.md §1.5), rounded
  once by the rulebook's rounding rule; the band, pass mark and recognition are decided on that rounded mean.
- A mandatory criterion is met when the members' mean points for it reach its minimum. OCOP: the star is the
  band of the mean, lowered until every mandatory criterion of that star and below is met (a star is granted
  only if every mandatory criterion for it is met). CNNTTB: a pass needs the level's pass mark and every
  mandatory criterion.
- Spread: the highest total minus the lowest; above the panel's threshold the dossier is re-scored.
- Outliers: members whose total lies more than the rulebook's ``outlier_points`` from the mean of the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from binhchon_kit.contracts.common import Level
from binhchon_kit.contracts.scoring import MandatoryOutcome, PartAverage
from scoring.domain.rulebook import LevelRule, Rulebook, Sheet

Sheets = Mapping[str, Mapping[str, float]]  # member id → criterion code → points


@dataclass(frozen=True)
class Result:
    average_total: float
    part_averages: list[PartAverage]
    totals: dict[str, float]
    outliers: list[str]
    band_stars: int | None
    stars: int | None
    passed: bool | None
    rating_label: str
    mandatory: list[MandatoryOutcome]
    recognised_at_level: bool
    goes_up_a_level: bool
    next_level: Level | None
    spread: float


def total(points: Mapping[str, float]) -> float:
    return float(sum(Decimal(str(p)) for p in points.values()))


def spread(sheets: Sheets) -> float:
    totals = [total(p) for p in sheets.values()]
    return float(Decimal(str(max(totals))) - Decimal(str(min(totals)))) if totals else 0.0


def _mean(values: list[float] | list[Decimal]) -> Decimal:
    return sum((Decimal(str(v)) for v in values), Decimal(0)) / len(values)


def star_label(stars: int) -> str:
    return f"{stars} sao"


@dataclass(frozen=True)
class Rating:
    """What the rounded mean and the mandatory criteria give at a level: the band, the stars, the pass."""
    band: int | None
    stars: int | None
    passed: bool | None
    label: str
    recognised: bool
    goes_up: bool


def rate(rulebook: Rulebook, rule: LevelRule, average: float, mandatory: list[MandatoryOutcome]) -> Rating:
    """The rating of the rounded mean (the audit's recompute rates with this too, ADR 0042)."""
    if rulebook.star_bands:
        band = stars = rulebook.band(average)
        while stars > 1 and not all(m.met for m in mandatory
                                    if m.required_for_stars is not None and m.required_for_stars <= stars):
            stars -= 1
        return Rating(band=band, stars=stars, passed=None, label=star_label(stars), recognised=stars in rule.recognises,
                      goes_up=stars in rule.forwards and rule.next_level is not None)
    if rule.pass_mark is None:
        raise ValueError(f"rulebook {rulebook.id}: a level without star bands has no pass mark")
    passed = average >= rule.pass_mark and all(m.met for m in mandatory)
    return Rating(band=None, stars=None, passed=passed, label="Đạt" if passed else "Không đạt", recognised=passed,
                  goes_up=passed and rule.forwards_passed and rule.next_level is not None)


def aggregate(rulebook: Rulebook, sheet: Sheet, level: Level, sheets: Sheets) -> Result:
    if not sheets:
        raise ValueError("no sheets to aggregate")
    totals = {member: total(points) for member, points in sorted(sheets.items())}
    average = rulebook.rounding.apply(_mean(list(totals.values())))
    parts = [
        PartAverage(code=part.code, label=part.label, maximum=part.maximum, average=rulebook.rounding.apply(
            _mean([sum((Decimal(str(p[c.code])) for c in sheet.criteria if c.part == part.code), Decimal(0))
                   for p in sheets.values()]))) for part in rulebook.parts
    ]
    mandatory = [
        MandatoryOutcome(code=c.code, label=c.label, required_for_stars=c.mandatory.for_stars,
                         minimum=c.mandatory.minimum,
                         average=rulebook.rounding.apply(_mean([p[c.code] for p in sheets.values()])),
                         met=_mean([p[c.code] for p in sheets.values()]) >= Decimal(str(c.mandatory.minimum)))
        for c in sheet.criteria if c.mandatory is not None
    ]
    outliers = [m for m, t in totals.items() if len(totals) > 1
                and abs(Decimal(str(t)) - _mean([o for n, o in totals.items() if n != m]))
                > Decimal(str(rulebook.outlier_points))]
    rule = rulebook.level_rule(level)
    if rule is None:
        raise ValueError(f"rulebook {rulebook.id} has no {level.value} level")
    rating = rate(rulebook, rule, average, mandatory)
    return Result(average_total=average, part_averages=parts, totals=totals, outliers=outliers,
                  band_stars=rating.band, stars=rating.stars, passed=rating.passed, rating_label=rating.label,
                  mandatory=mandatory, recognised_at_level=rating.recognised, goes_up_a_level=rating.goes_up,
                  next_level=rule.next_level, spread=spread(sheets))
