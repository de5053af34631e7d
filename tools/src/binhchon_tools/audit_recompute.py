"""A cheaper recomputation of the common scoring stream, used only to confirm: never to name a discrepancy.

Most scoring streams have one shape: ``scoring.opened``, one sealed ``score.submitted`` per scoring member of the
panel in the first scoring round, ``scoring.completed`` revealing the sealing key, and the authority's
``result.*``. Replaying such a stream with scoring's own fold and ``evaluate`` costs about 2.5 ms (sheets
unsealed one by one, a ``Decimal`` made from ``str`` of every criterion's points four times over, dataclass
copies per event); this path does the same computation in a tenth of that:

- each event's data is read as its contract model reads it, as the fold does: first on plain dicts
  (``_confirm_plain``: ``audit_plain``'s checks, the completion and result compared type for type with a valid
  model's dump), and where that finds anything unusual by the models themselves (``_confirm``); an event that does
  not validate sends the stream to the slow path, which names it;
- the sheets are opened with one AES-GCM object for the dossier's revealed key, the key's digest computed once;
- the sums of a member's points (their total, and each part's) are taken in integer half points when every
  point is a whole or half number, which they are on every rulebook's sheets: then ``float(sum(Decimal(str(p))))``
  is exactly ``halves / 2``. Everything else (means, rounding, bands, mandatory criteria, outliers, spread) is
  the same expression as ``scoring.domain.aggregation.aggregate``'s, on those exact values;
- the result is scoring's own ``decide``.

The answer is only ``True`` (the slow path would find the stream's decisions right: the recorded
``scoring.completed`` and result are exactly what is recomputed) or ``None`` (anything else: another shape, a
point that is not a half, a difference): the audit then replays the stream with scoring's code, which names what
is wrong. A property test compares ``aggregate_halves`` with scoring's ``aggregate``, and the verify of tampered
streams with and without this path (tools/tests/test_audit_recompute.py).
"""

from __future__ import annotations

import binascii
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from functools import partial
from itertools import chain
from typing import Any, NamedTuple

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from binhchon_kit.canonical import canonical_json, read_json
from binhchon_kit.contracts.common import DecisionReference, Level, Programme
from binhchon_kit.contracts.registry import event_model
from binhchon_kit.contracts.scoring import (
    MandatoryOutcome,
    PanelFormed,
    PartAverage,
    ScoreSubmitted,
    ScoringCompleted,
    ScoringOpened,
)
from binhchon_tools import audit_plain as plain
from binhchon_tools.audit_hash import read_event, schema_version
from scoring.adapters.rulebooks import Rulebooks
from scoring.domain import panel as panels
from scoring.domain.aggregation import Result, rate
from scoring.domain.rulebook import RoundingMode, Rulebook, Sheet
from scoring.domain.scoring import COMPLETED, DossierScoring, decide
from scoring.domain.sealing import DIGEST_PREFIX, DossierKey, sheet_context

try:  # the compiled sheet opening (libs/audit-core, ADR 0059): without it the events are read whole
    from binhchon_audit_core import Decider, open_sheets
except ImportError:  # pragma: no cover - a machine without cargo
    open_sheets = None  # type: ignore[assignment]
    Decider = None  # type: ignore[assignment,misc]

RESULT_TYPES = ("result.approved", "result.not_recognised")
_HALF_LIMIT = 2**40  # far inside a double's exact integers: sums of half points stay exact


_NUMBER_TYPES = frozenset({int, float})
_double = (2.0).__mul__


def _halves_only(values: list[Any]) -> bool:
    """Whether every value is an int or float that is a whole or half number within ``_HALF_LIMIT``: then any sum
    of them is exact in floating point, and equal to the sum of their ``Decimal(str(...))``."""
    return (bool(values) and set(map(type, values)) <= _NUMBER_TYPES
            and all(map(float.is_integer, map(_double, values)))
            and -_HALF_LIMIT < min(values) and max(values) < _HALF_LIMIT)


def _mean_of_sum(exact_sum: float, count: int) -> Decimal:
    """``aggregation._mean`` of ``count`` half points adding up to ``exact_sum``: the same Decimal division of the
    same exact value (``Decimal`` of such a float is exact)."""
    return Decimal(exact_sum) / count


class _Mandatory(NamedTuple):
    """What ``rate`` reads of a ``MandatoryOutcome`` (a tuple: no validation per dossier)."""

    code: str
    label: str
    required_for_stars: int | None
    minimum: float
    average: float
    met: bool


@dataclass(frozen=True)
class _Layout:
    """What a rulebook's sheet gives every dossier scored on it, worked out once (``_layout``)."""

    rulebook: Rulebook
    criteria: list[str]  # the codes of the sheet's criteria it reads, in order: ``Marks.columns``' places
    parts: list[tuple[Any, list[int]]]  # each part of the rulebook and its criteria's places on this sheet
    mandatory: list[tuple[Any, Decimal, int]]  # each mandatory criterion, its minimum and its place
    outlier_points: Decimal
    quantum: Decimal
    rounding: str  # ``decimal``'s rounding mode of ``rulebook.rounding``
    clean: bool  # its codes and labels are what the contract models read unchanged (else: the model path)
    scale: int  # 10 ** the rounding's decimals
    half_even: bool
    outlier_ratio: tuple[int, int] | None  # ``outlier_points`` as a fraction, if its denominator is small
    minimum_ratios: list[tuple[int, int]] | None  # each mandatory minimum so (None: one is not)

    def round(self, value: Decimal) -> float:
        """``rulebook.rounding.apply`` (``Decimal(str(d))`` of a Decimal is ``d``)."""
        return float(value.quantize(self.quantum, rounding=self.rounding))

    def round_halves(self, halves: int, n: int) -> float:
        """``round(_mean_of_sum(halves / 2, n))`` in integers: halves / 2n rounded exactly (``_integral`` says
        when the Decimal division, 28 digits, gives the same), then one correctly rounded division, as
        ``float`` of the quantized Decimal is; a negative value rounded to nothing is -0.0, as there."""
        quotient, rest = divmod(abs(halves) * self.scale, 2 * n)
        if 2 * rest > 2 * n or (2 * rest == 2 * n and (not self.half_even or quotient & 1)):
            quotient += 1
        value = quotient / self.scale
        return -value if halves < 0 else value


# Where the sums of half points stay below this, a 28-digit Decimal division or subtraction cannot reach or cross
# a rounding tie, a minimum or the outlier bound it is compared with unless it is exactly on it (then exact), as
# long as n and the bounds' denominators stay below _SMALL: the gap from a tie is at least 1 / (2n * 10^6), the
# Decimal error at most 10^12 * 10^-27 (ADR 0042, 2026-11-30).
_INTEGRAL_LIMIT = 10**12
_SMALL = 10**6


def _ratio(value: Decimal) -> tuple[int, int] | None:
    numerator, denominator = value.as_integer_ratio()
    return (numerator, denominator) if denominator <= _SMALL else None


_layouts: dict[tuple[int, int], _Layout] = {}


def _layout(rulebook: Rulebook, sheet: Sheet) -> _Layout:
    found = _layouts.get((id(rulebook), id(sheet)))
    if found is not None and found.rulebook is rulebook:  # (the ids of a rulebook still held)
        return found
    # the criteria the aggregation reads (a part's, a mandatory one): the only ones a sheet must hold
    part_codes = {part.code for part in rulebook.parts}
    read = [c for c in sheet.criteria if c.part in part_codes or c.mandatory is not None]
    places: dict[str, list[int]] = {}
    for place, criterion in enumerate(read):
        places.setdefault(criterion.part, []).append(place)
    rounding = rulebook.rounding
    mandatory = [(c, Decimal(str(c.mandatory.minimum)), place) for place, c in enumerate(read)
                 if c.mandatory is not None]
    clean = (plain.code(rulebook.id) and plain.text(rounding.describe())
             and all(plain.code(p.code) and plain.text(p.label) for p in rulebook.parts)
             and all(plain.code(c.code) and plain.text(c.label) for c, _, _ in mandatory))
    minimum_ratios = [_ratio(minimum) for _, minimum, _ in mandatory]
    outlier_points = Decimal(str(rulebook.outlier_points))
    layout = _layouts[(id(rulebook), id(sheet))] = _Layout(
        rulebook=rulebook, criteria=[c.code for c in read],
        parts=[(part, places.get(part.code, [])) for part in rulebook.parts],
        mandatory=mandatory, outlier_points=outlier_points, quantum=Decimal(1).scaleb(-rounding.decimals),
        rounding=ROUND_HALF_UP if rounding.mode is RoundingMode.HALF_UP else ROUND_HALF_EVEN, clean=clean,
        scale=10**rounding.decimals if rounding.decimals >= 0 else 0,
        half_even=rounding.mode is not RoundingMode.HALF_UP, outlier_ratio=_ratio(outlier_points),
        minimum_ratios=[r for r in minimum_ratios if r is not None] if None not in minimum_ratios else None)
    return layout


class _Halves(NamedTuple):
    layout: _Layout
    average: float
    parts: list[float]  # each part's rounded mean, in ``layout.parts``' order
    totals: dict[str, float]
    outliers: list[str]
    mandatory: list[_Mandatory]
    rule: Any
    rating: Any
    spread: float


class Marks(NamedTuple):
    """A dossier's opened sheets in integer half points, sorted by member: what the aggregation reads of them."""

    members: list[str]
    totals: list[int]  # each member's sum of all its points
    columns: list[int]  # each criterion's points summed over the members (``_Layout.criteria``' order)
    magnitude: int  # the sum of every point's magnitude


def marks_of(sheets: dict[str, dict[str, Any]], layout: _Layout) -> Marks | None:
    """``sheets`` (each member's points by criterion) as ``Marks``, or None: a sheet holds nothing, or a point
    that is not a whole or half number (a missing criterion raises KeyError, as scoring's aggregate does)."""
    values = list(chain.from_iterable(points.values() for points in sheets.values()))
    if not sheets or not all(sheets.values()) or not _halves_only(values):
        return None
    members = sorted(sheets)
    # float(sum(Decimal(str(p)))) of half points is exactly their float sum: twice it an exact int
    return Marks(members, [int(2 * sum(sheets[m].values())) for m in members],
                 [int(2 * sum(sheets[m][code] for m in members)) for code in layout.criteria],
                 int(2 * sum(map(abs, values))))


def _aggregated(rulebook: Rulebook, layout: _Layout, level: Any, marks: Marks) -> _Halves | None:
    """``aggregate``'s numbers from the sheets' half points (None as when the level is unknown: the slow path
    says what happens then)."""
    n = len(marks.members)
    totals = {member: halves / 2 for member, halves in zip(marks.members, marks.totals, strict=True)}
    if (layout.scale and layout.outlier_ratio and layout.minimum_ratios is not None and n < _SMALL
            and marks.magnitude * layout.scale < _INTEGRAL_LIMIT):
        return _aggregated_halves(rulebook, layout, level, marks, totals)
    grand = sum(marks.totals) / 2
    average = layout.round(_mean_of_sum(grand, n))
    columns = marks.columns
    parts = [layout.round(_mean_of_sum(sum(map(columns.__getitem__, places)) / 2, n)) for _, places in layout.parts]
    mandatory = []
    for c, minimum, place in layout.mandatory:
        mean = _mean_of_sum(columns[place] / 2, n)
        mandatory.append(_Mandatory(c.code, c.label, c.mandatory.for_stars, c.mandatory.minimum,
                                    layout.round(mean), mean >= minimum))
    outliers = [m for m, t in totals.items() if n > 1
                and abs(Decimal(t) - _mean_of_sum(grand - t, n - 1)) > layout.outlier_points]
    return _rated(rulebook, layout, level, average, parts, totals, outliers, mandatory)


def _aggregated_halves(rulebook: Rulebook, layout: _Layout, level: Any, marks: Marks, totals: dict[str, float]
                       ) -> _Halves | None:
    """``_aggregated`` in integer half points (every sum of half points below 2^53 is exact as a float, so twice
    it is an exact int): the same numbers, without a Decimal (a property test holds it to scoring's aggregate)."""
    n = len(marks.members)
    halves = sum(marks.totals)
    average = layout.round_halves(halves, n)
    columns = marks.columns
    parts = [layout.round_halves(sum(map(columns.__getitem__, places)), n) for _, places in layout.parts]
    mandatory = []
    assert layout.minimum_ratios is not None and layout.outlier_ratio is not None
    for (c, _, place), (numerator, denominator) in zip(layout.mandatory, layout.minimum_ratios, strict=True):
        mean = columns[place]  # twice the sum: the mean is mean / 2n
        mandatory.append(_Mandatory(c.code, c.label, c.mandatory.for_stars, c.mandatory.minimum,
                                    layout.round_halves(mean, n), mean * denominator >= 2 * n * numerator))
    # |t - (grand - t) / (n - 1)| > P, times 2 (n - 1) and P's denominator
    numerator, denominator = layout.outlier_ratio
    outliers = [m for m, t in zip(marks.members, marks.totals, strict=True) if n > 1
                and abs(t * (n - 1) - (halves - t)) * denominator > 2 * (n - 1) * numerator]
    return _rated(rulebook, layout, level, average, parts, totals, outliers, mandatory)


def _rated(rulebook: Rulebook, layout: _Layout, level: Any, average: Any, parts: list[Any],
           totals: dict[str, float], outliers: list[str], mandatory: list[_Mandatory]) -> _Halves | None:
    """The level's rule applied to the aggregated numbers (None where the rulebook rates nothing at that level)."""
    rule = rulebook.level_rule(level)
    if rule is None or (not rulebook.star_bands and rule.pass_mark is None):
        return None
    rating = rate(rulebook, rule, average, mandatory)  # type: ignore[arg-type]  # reads .met, .required_for_stars
    spread = float(max(totals.values()) - min(totals.values()))
    return _Halves(layout, average, parts, totals, outliers, mandatory, rule, rating, spread)


def aggregate_halves(rulebook: Rulebook, sheet: Sheet, level: Any, sheets: dict[str, dict[str, Any]]
                     ) -> Result | None:
    """``scoring.domain.aggregation.aggregate``'s result when every point is a whole or half number (else None,
    as when a criterion is missing or the level unknown: the slow path says what happens then)."""
    layout = _layout(rulebook, sheet)
    marks = marks_of(sheets, layout)
    done = None if marks is None else _aggregated(rulebook, layout, level, marks)
    if done is None:
        return None
    rating = done.rating
    return Result(
        average_total=done.average, totals=done.totals, outliers=done.outliers,
        part_averages=[PartAverage(code=part.code, label=part.label, maximum=part.maximum, average=average)
                       for (part, _), average in zip(done.layout.parts, done.parts, strict=True)],
        band_stars=rating.band, stars=rating.stars, passed=rating.passed, rating_label=rating.label,
        mandatory=[MandatoryOutcome(**m._asdict()) for m in done.mandatory],
        recognised_at_level=rating.recognised, goes_up_a_level=rating.goes_up, next_level=done.rule.next_level,
        spread=done.spread)


def _validated(event: dict[str, Any]) -> Any:
    return event_model(event["type"]).model.model_validate(event["data"])


def _readable(event: dict[str, Any]) -> None:
    """Raises where the slow path's ``recorded`` would (a missing attribute, a time or schema it cannot read)."""
    int(event["streamversion"])
    schema_version(event)
    datetime.fromisoformat(event["time"])
    event["actorroles"].split(",")
    for name in ("id", "streamid", "subject", "data", "actorid", "correlationid", "causationid", "source",
                 "prevhash", "hash"):
        event[name]


def confirm_stream(events: list[dict[str, Any]], panel_of: Callable[[str], PanelFormed | None],
                   rulebooks: Rulebooks) -> int | None:
    """How many decisions of this stream (one version each, in order) are confirmed right, or None: the slow
    path must replay it (another shape, or something it will name). ``panel_of``: a round's panel."""
    try:
        confirmed = _confirm_plain(events, panel_of, rulebooks)
    except Exception:  # the model path below answers for what this one cannot take
        confirmed = None
    if confirmed is not None:
        return confirmed
    try:
        return _confirm(events, panel_of, rulebooks)
    except Exception:  # whatever this path cannot take, scoring's own code replays
        return None


def _confirm_plain(events: list[dict[str, Any]], panel_of: Callable[[str], PanelFormed | None],
                   rulebooks: Rulebooks) -> int | None:
    """``_confirm`` on the events' plain data: 2 only where ``_confirm`` answers 2, None for anything unusual
    (then ``_confirm`` is asked). The data of the opening and the sheets is checked as their models would read
    it (``audit_plain``); the completion and the result are compared, type for type, with what a valid model
    dumps, so they read as those models. A property test holds it to ``_confirm`` (test_audit_plain.py)."""
    if len(events) < 4:
        return None
    sheet_events = events[1:-2]
    if any(e["type"] != "score.submitted" for e in sheet_events):
        return None
    for event in events:
        _readable(event)
    return _confirm_opened(events[0], events[-2], events[-1], len(events), panel_of, rulebooks,
                           partial(_opened_sheets, sheet_events))


def confirm_raws(raws: list[bytes], exact: bool, panel_of: Callable[[str], PanelFormed | None],
                 rulebooks: Rulebooks) -> int | None:
    """``_confirm_plain`` of a stream still raw, its sealed sheets read and opened by the compiled module
    (``binhchon_audit_core.open_sheets``) without a Python object per sheet: 2, or None (another shape, anything
    the compiled reading leaves, no compiled module): the caller then reads the events and asks
    ``confirm_stream``. ``exact``: ``read_json`` read every raw exact once already."""
    if open_sheets is None or len(raws) < 4:
        return None
    read = orjson.loads if exact else (lambda raw: read_event(raw)[0])
    try:
        first, completed_event, result_event = read(raws[0]), read(raws[-2]), read(raws[-1])
        for event in (first, completed_event, result_event):
            _readable(event)
        return _confirm_opened(first, completed_event, result_event, len(raws), panel_of, rulebooks,
                               partial(_compiled_sheets, raws[1:-2]))
    except Exception:  # the events read whole answer for whatever this cannot take
        return None


class Scorers(NamedTuple):
    """What a panel gives every dossier it scores, worked out once per panel (``_scorers``)."""

    panel: PanelFormed
    eligible: frozenset[str]  # its scoring members
    quorate: bool  # whether all of them make its quorum
    readable: list[str]  # those a sheet may name as the plain check reads a member (for the compiled opening)


Opener = Callable[[str, DossierKey, Scorers, _Layout], Marks | None]


def _opened_sheets(sheet_events: list[dict[str, Any]], dossier_id: str, key: DossierKey, scorers: Scorers,
                   layout: _Layout) -> Marks | None:
    """The sealed sheets, checked as their model reads them and opened with the dossier's revealed key."""
    digest, aead, eligible = key.digest, AESGCM(key.key), scorers.eligible
    marks: dict[str, dict[str, Any]] = {}
    for event in sheet_events:
        sheet = event["data"]
        if not plain.sealed_sheet(sheet):
            return None
        sealed, member = sheet["sealed"], sheet["member_id"]
        if (sheet["scoring_round"] != 1 or member in marks or member not in eligible
                or not hmac.compare_digest(digest, sealed["key_digest"])):
            return None
        try:  # as _confirm: were the associated data's bytes other than scoring's, the tag would fail
            text = aead.decrypt(_unb64(sealed["nonce"]), _unb64(sealed["ciphertext"]),
                                sheet_aad(dossier_id, sheet["sheet_id"], member))
        except (InvalidTag, ValueError):
            return None
        opened = read_json(text)[0]
        opened["total"]  # as scoring's ``unsealed`` reads the marks (it raises without a total)
        marks[member] = {s["code"]: s["points"] for s in opened["scores"]}
    return marks_of(marks, layout) if marks else None


_scorers_of: dict[int, Scorers] = {}


def _scorers(panel: PanelFormed) -> Scorers:
    found = _scorers_of.get(id(panel))
    if found is None or found.panel is not panel:
        if len(_scorers_of) >= 1024:  # (each task of the workers reads its panels anew: hold a bounded few)
            _scorers_of.clear()
        eligible = frozenset(m.id for m in panels.scoring_members(panel))
        found = _scorers_of[id(panel)] = Scorers(panel, eligible, panels.quorum_met(panel, set(), set(eligible)),
                                                 [m for m in eligible if plain.text(m)])
    return found


def _compiled_sheets(raws: list[bytes], dossier_id: str, key: DossierKey, scorers: Scorers, layout: _Layout
                     ) -> Marks | None:
    """``_opened_sheets`` of the raw sheets, compiled (held to it by tools/tests/test_audit_recompute.py)."""
    assert open_sheets is not None
    opened = open_sheets(raws, dossier_id, key.key, key.digest, scorers.readable, layout.criteria)
    return None if opened is None else Marks(*opened)


def _confirm_opened(first: dict[str, Any], completed_event: dict[str, Any], result_event: dict[str, Any],
                    length: int, panel_of: Callable[[str], PanelFormed | None], rulebooks: Rulebooks,
                    open_sheets_with: Opener) -> int | None:
    """``_confirm_plain`` from its opening, completion and result (all readable), its sheets opened by
    ``open_sheets_with``."""
    if (first["type"] != "scoring.opened" or completed_event["type"] != "scoring.completed"
            or result_event["type"] not in RESULT_TYPES):
        return None
    opened = first["data"]
    if not plain.opened(opened):
        return None
    panel = panel_of(opened["round_id"])
    data = completed_event["data"]
    if panel is None or type(data) is not dict:
        return None
    rulebook = rulebooks.get(data.get("rulebook_id"), data.get("rulebook_version"))  # type: ignore[arg-type]
    revealed = data.get("sealing_key")
    if (rulebook is None or (opened["rulebook_id"], opened["rulebook_version"]) != (rulebook.id, rulebook.version)
            or type(revealed) is not str):
        return None
    sheet_used = rulebook.find_sheet(opened["sheet_id"])
    if sheet_used is None:
        return None
    key = DossierKey.from_revealed(revealed)
    scorers = _scorers(panel)
    dossier_id = opened["dossier_id"]
    layout = _layout(rulebook, sheet_used)
    marks = open_sheets_with(dossier_id, key, scorers, layout)
    # every eligible member scored: the quorum holds if it does with all of them, and closing changes nothing
    if marks is None or set(marks.members) != scorers.eligible or not scorers.quorate:
        return None
    done = _aggregated(rulebook, layout, opened["level"], marks)
    if done is None or not done.layout.clean or (done.spread > panel.spread_threshold
                                                 and 1 <= panel.max_rescoring_rounds):
        return None
    rating = done.rating
    if not plain.text(rating.label):
        return None
    expected = {
        "dossier_id": dossier_id, "round_id": opened["round_id"], "rulebook_id": rulebook.id,
        "rulebook_version": rulebook.version, "scoring_round": 1, "average_total": done.average,
        "rounding": rulebook.rounding.describe(),
        "part_averages": [{"code": part.code, "label": part.label, "average": average,
                           "maximum": float(part.maximum)}
                          for (part, _), average in zip(done.layout.parts, done.parts, strict=True)],
        "totals": done.totals, "outliers": done.outliers, "band_stars": rating.band, "stars": rating.stars,
        "passed": rating.passed, "rating_label": rating.label,
        "mandatory": [{"code": m.code, "label": m.label, "required_for_stars": m.required_for_stars,
                       "average": m.average, "minimum": float(m.minimum), "met": m.met} for m in done.mandatory],
        "recognised_at_level": rating.recognised, "goes_up_a_level": rating.goes_up, "spread": done.spread,
        "spread_exceeded": done.spread > panel.spread_threshold, "sealing_key": key.revealed()}
    if not plain.same(expected, data):
        return None
    opened_model = ScoringOpened.model_construct(**{**opened, "programme": Programme(opened["programme"]),
                                                    "level": Level(opened["level"])})
    state = DossierScoring(dossier_id=dossier_id, version=length - 1, opened=opened_model, status=COMPLETED,
                           completed=data)
    decided = decide(state, DecisionReference.model_validate(result_event["data"]["decision"]), rulebook)
    decided_type = "result.approved" if decided.__class__.__name__ == "ResultApproved" else "result.not_recognised"
    if decided_type != result_event["type"] or not plain.same(decided.model_dump(mode="json"), result_event["data"]):
        return None
    return 2


def _confirm(events: list[dict[str, Any]], panel_of: Callable[[str], PanelFormed | None], rulebooks: Rulebooks
             ) -> int | None:
    if len(events) < 4:
        return None
    types = [e["type"] for e in events]
    if (types[0] != "scoring.opened" or types[-2] != "scoring.completed" or types[-1] not in RESULT_TYPES
            or any(t != "score.submitted" for t in types[1:-2])):
        return None
    for event in events:
        _readable(event)
    opened = _validated(events[0])
    if not isinstance(opened, ScoringOpened):
        return None
    panel = panel_of(opened.round_id)
    if panel is None:
        return None
    sheets = [_validated(e) for e in events[1:-2]]
    completed_event, result_event = events[-2], events[-1]
    completed = _validated(completed_event)
    _validated(result_event)
    data = completed_event["data"]
    rulebook = rulebooks.get(data["rulebook_id"], data["rulebook_version"])
    if rulebook is None or (opened.rulebook_id, opened.rulebook_version) != (rulebook.id, rulebook.version):
        return None
    revealed = data.get("sealing_key")
    if not isinstance(completed, ScoringCompleted) or not isinstance(revealed, str):
        return None
    key = DossierKey.from_revealed(revealed)
    digest, aead = key.digest, AESGCM(key.key)
    eligible = {m.id for m in panels.scoring_members(panel)}
    marks: dict[str, dict[str, Any]] = {}
    for event, sheet in zip(events[1:-2], sheets, strict=True):
        sealed = sheet.sealed
        if (not isinstance(sheet, ScoreSubmitted) or sealed is None or sheet.scores is not None
                or sheet.scoring_round != 1 or sheet.member_id in marks or sheet.member_id not in eligible
                or not hmac.compare_digest(digest, sealed.key_digest)):
            return None
        context = sheet_context(opened.dossier_id, event["type"], sheet.sheet_id, sheet.member_id, 1)
        try:
            # the context is strings and an int: orjson writes its RFC 8785 form (a tenth of the decisions' CPU
            # with the walk and the C encoder); were the bytes other than scoring's, the tag would fail and the
            # slow path would replay the stream
            plain = aead.decrypt(_unb64(sealed.nonce), _unb64(sealed.ciphertext), canonical_json(context, exact=True))
        except (InvalidTag, ValueError):
            return None
        opened_marks = read_json(plain)[0]
        opened_marks["total"]  # as scoring's ``unsealed`` reads the marks (it raises without a total)
        marks[sheet.member_id] = {s["code"]: s["points"] for s in opened_marks["scores"]}
    # every eligible member scored: the quorum holds whatever it is, and closing changes nothing
    if set(marks) != eligible or not panels.quorum_met(panel, set(), set(marks)):
        return None
    counted = {m: marks[m] for m in sorted(marks)}
    sheet_used = rulebook.find_sheet(opened.sheet_id)
    if sheet_used is None:
        return None  # scoring's replay names it
    result = aggregate_halves(rulebook, sheet_used, opened.level, counted)
    if result is None or (result.spread > panel.spread_threshold and 1 <= panel.max_rescoring_rounds):
        return None
    expected = ScoringCompleted(
        dossier_id=opened.dossier_id, round_id=opened.round_id, rulebook_id=rulebook.id,
        rulebook_version=rulebook.version, scoring_round=1,
        average_total=result.average_total, rounding=rulebook.rounding.describe(),
        part_averages=result.part_averages, totals=result.totals, outliers=result.outliers,
        band_stars=result.band_stars, stars=result.stars, passed=result.passed, rating_label=result.rating_label,
        mandatory=result.mandatory, recognised_at_level=result.recognised_at_level,
        goes_up_a_level=result.goes_up_a_level, spread=result.spread,
        spread_exceeded=result.spread > panel.spread_threshold, sealing_key=key.revealed())
    if expected.model_dump(mode="json") != data:
        return None
    state = DossierScoring(dossier_id=opened.dossier_id, version=len(events) - 1, opened=opened,
                           status=COMPLETED, completed=data)
    decided = decide(state, DecisionReference.model_validate(result_event["data"]["decision"]), rulebook)
    decided_type = "result.approved" if decided.__class__.__name__ == "ResultApproved" else "result.not_recognised"
    if decided_type != result_event["type"] or decided.model_dump(mode="json") != result_event["data"]:
        return None
    return 2


def sheet_aad(dossier_id: str, sheet_id: str, member_id: str) -> bytes:
    """The RFC 8785 bytes of a first-round ``score.submitted``'s ``sheet_context``, written directly: its keys in
    their sorted order, strings as orjson and RFC 8785 both escape them (held to ``canonical_json`` by a test).
    Were they ever other than scoring's, the AEAD tag would fail and the model path would answer."""
    return orjson.dumps({"dossier_id": dossier_id, "member_id": member_id, "scoring_round": 1, "sheet_id": sheet_id,
                         "type": "score.submitted"})


_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _unb64(text: str) -> bytes:
    """``scoring.domain.sealing.unb64`` without ``base64``'s layers (``urlsafe_b64decode`` is this translation then
    a lenient ``a2b_base64``): a tenth of the cheap path's CPU went to them. Were it ever to answer otherwise, the
    AEAD tag would fail and scoring's replay would check the stream."""
    return binascii.a2b_base64((text + "=" * (-len(text) % 4)).encode("ascii").translate(_URLSAFE))


def _layout_spec(rulebook: Rulebook, sheet: Sheet) -> tuple[Any, ...] | None:
    """A sheet's ``_Layout`` for the compiled decider, where the half points answer and it is clean (else None:
    Python reads its streams, as ``_aggregated`` and ``_confirm_opened`` would read them otherwise)."""
    layout = _layout(rulebook, sheet)
    if not layout.clean or not layout.scale or layout.outlier_ratio is None or layout.minimum_ratios is None:
        return None
    return (layout.criteria,
            [(part.code, part.label, float(part.maximum), places) for part, places in layout.parts],
            [(c.code, c.label, c.mandatory.for_stars, float(c.mandatory.minimum), place, numerator, denominator)
             for (c, _, place), (numerator, denominator) in zip(layout.mandatory, layout.minimum_ratios, strict=True)],
            layout.outlier_ratio, layout.scale, layout.half_even)


def _book_spec(rulebook: Rulebook) -> tuple[Any, ...]:
    return (rulebook.id, rulebook.version, rulebook.certificate_validity_months, rulebook.rounding.describe(),
            [(float(band.minimum), band.stars) for band in rulebook.star_bands],
            {rule.level.value: (list(rule.recognises), list(rule.forwards),
                                None if rule.next_level is None else rule.next_level.value,
                                None if rule.pass_mark is None else float(rule.pass_mark), rule.forwards_passed)
             for rule in reversed(rulebook.levels)},  # (the first rule of a level is the one ``level_rule`` finds)
            {sheet.id: _layout_spec(rulebook, sheet) for sheet in reversed(rulebook.sheets)})


_books: dict[int, tuple[Rulebooks, list[tuple[Any, ...]]]] = {}


def compiled_decider(panel_of: Callable[[str], PanelFormed | None], round_ids: Iterable[str],
                     rulebooks: Rulebooks) -> Any:
    """The compiled confirmation of common streams (``binhchon_audit_core.Decider``) for the rounds ``round_ids``
    (their panels by ``panel_of``) under ``rulebooks``, or None without the compiled module."""
    if Decider is None:
        return None
    held = _books.get(id(rulebooks))
    if held is None or held[0] is not rulebooks:
        held = _books[id(rulebooks)] = (rulebooks, [_book_spec(b) for b in rulebooks.every_version()])
    panels_spec = {}
    for round_id in round_ids:
        try:
            panel = panel_of(round_id)
        except ValueError:  # a forged panel its model refuses: its streams are left to Python, which names it
            continue
        if panel is not None:
            scorers = _scorers(panel)
            panels_spec[round_id] = (len(scorers.eligible), scorers.readable, scorers.quorate,
                                     float(panel.spread_threshold), panel.max_rescoring_rounds)
    return Decider(panels_spec, held[1], DIGEST_PREFIX)
