"""The audit's cheap recomputation (``audit_recompute``, ADR 0042) confirms exactly what scoring's own code does.

Streams made with scoring's domain code under every bundled rulebook, then altered the ways a forger could: the
verify's findings on each must be the same with the cheap path as with scoring's replay alone, and the cheap
path must confirm every untouched stream (else it would save nothing)."""

from __future__ import annotations

import base64
import copy
import unicodedata
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from binhchon_kit.canonical import canonical_json
from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.contracts.registry import event_model, registration_of
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_tools import audit_decisions, audit_recompute
from binhchon_tools.audit_decisions import _check_streams
from binhchon_tools.audit_findings import Findings
from binhchon_tools.audit_hash import GENESIS, read_event, seal
from binhchon_tools.audit_recompute import (
    _confirm,
    _confirm_plain,
    _unb64,
    aggregate_halves,
    confirm_stream,
    sheet_aad,
)
from scoring.adapters.rulebooks import Rulebooks
from scoring.domain import scoring as rules
from scoring.domain.aggregation import aggregate
from scoring.domain.rulebook import Rounding, RoundingMode
from scoring.domain.sealing import DossierKey, b64, derive, sheet_context, unb64

RULEBOOKS = Rulebooks.load()
CURRENT = RULEBOOKS.all_current()
START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
SYSTEM = Actor("system:test", ("system",))


def allowed_points(criterion: Any) -> list[float]:
    return list(criterion.allowed or [x / 2 for x in range(int(criterion.maximum * 2) + 1)])


@st.composite
def scored(draw: st.DrawFn) -> tuple[Any, Any, dict[str, dict[str, float]]]:
    rulebook = draw(st.sampled_from(CURRENT))
    sheet = draw(st.sampled_from(rulebook.sheets))
    members = draw(st.integers(1, 8))
    sheets = {f"m{k}": {c.code: draw(st.sampled_from(allowed_points(c))) for c in sheet.criteria}
              for k in range(members)}
    return rulebook, sheet, sheets


@settings(max_examples=300, deadline=None)
@given(scored(), st.data())
def test_aggregating_in_half_points_is_scorings_aggregate(case, data):
    rulebook, sheet, sheets = case
    level = data.draw(st.sampled_from([rule.level for rule in rulebook.levels]))
    assert aggregate_halves(rulebook, sheet, level, sheets) == aggregate(rulebook, sheet, level, sheets)


@settings(max_examples=3000, deadline=None)
@given(scored(), st.data(), st.integers(0, 4), st.sampled_from(list(RoundingMode)),
       st.sampled_from([0.3, 0.5, 1.0, 2.25, 3.5, 7.0, 10.0, 12.75, 0.001]))
def test_the_integer_half_points_are_scorings_decimal_aggregate(case, data, decimals, mode, outlier_points):
    """Every rounding the rulebooks may name and outlier bounds that meet ties: the integer path
    (``_aggregated_halves``) gives exactly scoring's ``Decimal`` aggregate, -0.0 and ties included."""
    rulebook, sheet, sheets = case
    rulebook = rulebook.model_copy(update={"rounding": Rounding(decimals=decimals, mode=mode),
                                           "outlier_points": outlier_points})
    level = data.draw(st.sampled_from([rule.level for rule in rulebook.levels]))
    layout = audit_recompute._layout(rulebook, sheet)
    assert layout.scale and layout.outlier_ratio and layout.minimum_ratios is not None  # the integer path runs
    assert aggregate_halves(rulebook, sheet, level, sheets) == aggregate(rulebook, sheet, level, sheets)


@settings(max_examples=2000)
@given(st.integers(-10**6, 10**6), st.integers(1, 60), st.integers(0, 4), st.booleans())
def test_rounding_half_points_in_integers_is_decimals(halves, n, decimals, half_even):
    rulebook = CURRENT[0].model_copy(update={"rounding": Rounding(
        decimals=decimals, mode=RoundingMode.HALF_EVEN if half_even else RoundingMode.HALF_UP)})
    layout = audit_recompute._layout(rulebook, rulebook.sheets[0])
    integral = layout.round_halves(halves, n)
    decimal = layout.round(audit_recompute._mean_of_sum(halves / 2, n))
    assert (integral, str(integral)) == (decimal, str(decimal))  # str tells -0.0 from 0.0


def test_points_that_are_not_halves_are_left_to_scoring():
    rulebook = RULEBOOKS.get("ocop-2023", 2)
    assert rulebook is not None
    sheet = rulebook.sheets[0]
    sheets = {"m1": {c.code: c.maximum for c in sheet.criteria}}
    sheets["m1"][sheet.criteria[0].code] = 0.25
    assert aggregate_halves(rulebook, sheet, rulebook.levels[0].level, sheets) is None


def stream_of(rulebook: Any, level: Any, members: int, secretary: bool, pick: Any) -> tuple[list[dict[str, Any]],
                                                                                           dict[str, Any]]:
    """One dossier scored by every scoring member and decided, as scoring records it: the CloudEvents as read."""
    round_id, dossier_id = f"round-{uuid.uuid4()}", f"dossier-{uuid.uuid4()}"
    roster = [rules.PanelMember(id=f"cm-{k}", name=f"Thành viên {k}", organisation="UBND",
                                role="chair" if k == 0 else "member") for k in range(members)]  # type: ignore[arg-type]
    if secretary:
        roster.append(rules.PanelMember(id="tk", name="Thư ký", organisation="UBND", role="secretary"))  # type: ignore[arg-type]
    panel = rules.PanelFormed(panel_id=f"panel-{uuid.uuid4()}", round_id=round_id, name="Hội đồng", members=roster,
                              quorum={"fraction": 0.75, "chair_required": True},  # type: ignore[arg-type]
                              sessions=["dossier", "samples"], spread_threshold=100)  # type: ignore[list-item]
    accepted = {"round_id": round_id, "rulebook_id": rulebook.id, "programme": rulebook.programme.value,
                "level": level.value, "product_group": rulebook.product_groups[0].label, "sample_code": "TP-01",
                "product_name": "Mật ong", "producer_name": "HTX Ong", "producer_registration_number": "2400000001",
                "province_code": "24"}
    key = derive(bytes(range(32)), "test", dossier_id)
    events: list[RecordedEvent] = []
    clock = START

    def record(data: Any, actor: Actor = SYSTEM) -> RecordedEvent:
        nonlocal clock
        clock += timedelta(seconds=1)
        type_ = registration_of(type(data)).type
        event_id = str(uuid.uuid4())
        prev = events[-1].hash if events else GENESIS
        event = seal(RecordedEvent(
            id=event_id, stream=f"scoring-{dossier_id}", version=len(events) + 1, type=type_,
            schema_version=event_model(type_).schema_version, subject=dossier_id, time=clock,
            data=data.model_dump(mode="json"), actor=actor, correlation_id=event_id, causation_id=event_id,
            source="/binhchon/scoring", prev_hash=prev, hash=""), prev)
        events.append(event)
        return event

    record(rules.open_scoring(accepted, dossier_id, rulebook))
    state = rules.evolve(None, events[-1])
    sheet = rulebook.sheet(state.opened.sheet_id)  # type: ignore[union-attr]
    for member in [m.id for m in roster if m.role.value != "secretary"]:
        scores = {c.code: pick(allowed_points(c)) for c in sheet.criteria}
        record(rules.submit(rules.unsealed(state, key), panel, rulebook, member, scores, "", key),  # type: ignore[arg-type]
               Actor(member, ("judge",)))
        state = rules.evolve(state, events[-1])
    completed = rules.evaluate(rules.unsealed(state, key), panel, rulebook, closing=False, key=key)  # type: ignore[arg-type]
    assert isinstance(completed, rules.ScoringCompleted)
    record(completed)
    state = rules.evolve(state, events[-1])
    decision = DecisionReference(number="1/QĐ-UBND", date=date(2026, 12, 20), signer="Phó Chủ tịch",
                                 authority="UBND tỉnh")
    record(rules.decide(state, decision, rulebook), Actor("ubnd", ("approver",)))  # type: ignore[arg-type]
    cloud = [read_event(e.to_cloudevent().to_bytes())[0] for e in events]
    return cloud, {"data": panel.model_dump(mode="json")}


def set_in(event: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target = event["data"]
    for name in parents:
        target = target[name]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value


def flip(text: str) -> str:
    return ("B" if text[5] == "A" else "A").join((text[:5], text[6:]))


# each: which event (by index in the stream), and what is done to it
ALTERATIONS: list[tuple[str, int, str, Any]] = [
    ("average", -2, "average_total", 1.5),
    ("a member's total", -2, "totals.cm-0", 0.5),
    ("stars", -2, "stars", 1),
    ("label", -2, "rating_label", "5 sao"),
    ("recognised", -2, "recognised_at_level", True),
    ("goes up", -2, "goes_up_a_level", True),
    ("outliers", -2, "outliers", ["cm-0"]),
    ("spread", -2, "spread", 99.5),
    ("a part", -2, "part_averages", []),
    ("rulebook version", -2, "rulebook_version", 1),
    ("an unknown field", -2, "extra", 1),
    ("no band", -2, "band_stars", KeyError),
    ("another key", -2, "sealing_key", "A" * 43),
    ("the result's points", -1, "points", 12.5),
    ("the result's decision", -1, "decision.number", "2/QĐ-UBND"),
    ("a sheet's ciphertext", 1, "sealed.ciphertext", flip),
    ("a sheet's member", 1, "member_id", "cm-9"),
    ("a sheet's round", 1, "scoring_round", 2),
    ("a sheet's marks in clear", 1, "total", 50.0),
    ("the opened round", 0, "round_id", "round-x"),
    ("the opened sheet", 0, "sheet_id", "sheet-x"),
]


def findings_of(streams: list[tuple[str, list[dict[str, Any]]]], panels: dict[str, dict[str, Any]],
                cheap: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], int]:
    monkeypatch.setattr(audit_decisions, "confirm_stream", confirm_stream if cheap else lambda *a: None)
    monkeypatch.setattr(audit_decisions, "confirm_raws", lambda *a: None)  # (events here are dicts, not raws)
    monkeypatch.setattr(audit_decisions, "compiled_decider", lambda *a: None)
    monkeypatch.setattr(audit_decisions.Log, "events", staticmethod(lambda events: copy.deepcopy(events)))
    findings = Findings()
    checked = _check_streams(streams, panels, RULEBOOKS, findings)  # type: ignore[arg-type]
    return [(d.check, d.subject, d.message, d.event_ids) for d in findings.discrepancies], checked


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # a failing case is shown, not shrunk: slow
@given(rulebook=st.sampled_from(CURRENT), members=st.integers(1, 7), secretary=st.booleans(),
       rng=st.randoms(use_true_random=False), data=st.data())
def test_the_cheap_path_finds_what_scorings_replay_finds(monkeypatch, rulebook, members, secretary, rng, data):
    level = data.draw(st.sampled_from([rule.level for rule in rulebook.levels]))
    events, panel = stream_of(rulebook, level, members, secretary, rng.choice)
    panels = {events[0]["data"]["round_id"]: panel}
    panel_models = {k: rules.PanelFormed.model_validate(v["data"]) for k, v in panels.items()}
    assert confirm_stream(events, panel_models.get, RULEBOOKS) == 2  # the untouched stream: confirmed
    streams = [("untouched", events)]
    for name, index, path, value in ALTERATIONS:
        altered = copy.deepcopy(events)
        event = altered[index]
        if value is flip:
            *_, last = path.split(".")
            value = value(event["data"]["sealed"][last])
        set_in(event, path, value)
        streams.append((name, altered))
    dropped = copy.deepcopy(events)
    del dropped[1]
    streams.append(("a sheet dropped", dropped))
    doubled = copy.deepcopy(events)
    doubled.insert(1, copy.deepcopy(events[1]))
    streams.append(("a sheet twice", doubled))
    swapped = copy.deepcopy(events)
    swapped[-1]["type"] = ("result.not_recognised" if swapped[-1]["type"] == "result.approved"
                           else "result.approved")
    streams.append(("the other result type", swapped))
    cheap = findings_of(streams, panels, True, monkeypatch)
    assert cheap == findings_of(streams, panels, False, monkeypatch)
    named = {subject for _, subject, _, _ in cheap[0]}
    assert "untouched" not in named
    assert named >= {"average", "a member's total", "label", "spread", "a part", "rulebook version", "an unknown field",
                     "another key", "the result's points", "a sheet's ciphertext", "a sheet's member",
                     "a sheet's round", "a sheet's marks in clear", "the opened round", "the opened sheet",
                     "a sheet dropped",
                     "the other result type"}


@settings(max_examples=2000)
@given(st.one_of(st.binary(max_size=64).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
                 st.text(alphabet=st.sampled_from("AZaz09-_+/= .\né"), max_size=48)))
def test_the_cheap_paths_base64_reads_as_scorings_own(text: str) -> None:
    """``_unb64`` (binascii, for speed) answers what scoring's ``unb64`` does, bytes or refusal, on sealed marks'
    base64 and on anything else a forged event could hold."""
    def answer(read: Any) -> tuple[str, bytes]:
        try:
            return "read", read(text)
        except ValueError:
            return "refused", b""

    assert answer(_unb64) == answer(unb64)


def leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in an event's data, nested ones included."""
    places = [path] if path else []
    if isinstance(value, dict):
        places += [p for k, v in value.items() for p in leaves(v, (*path, k))]
    elif isinstance(value, list):
        places += [p for i, v in enumerate(value) for p in leaves(v, (*path, i))]
    return places


def with_value(value: Any) -> list[Any]:
    """What a forger or a careless producer could write instead of ``value``: the same number as another JSON type,
    the same text padded or decomposed, a near neighbour, nothing."""
    near: list[Any] = [None, "", {}, []]
    if isinstance(value, bool):
        near += [int(value), float(value), not value, str(value).lower()]
    elif isinstance(value, int | float):
        near += [float(value), int(value), value + 0.5, value - 1, str(value), True, -0.0 if value == 0 else -value]
    elif isinstance(value, str):
        near += [f" {value}", f"{value} ", value.upper(), value[:-1], unicodedata.normalize("NFD", value) + "\u0301",
                 value + "x", value * 2]
    return near


def near_forgery(rng: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of the stream with one or two places in its events' data, nested ones included, given a near value."""
    forged = copy.deepcopy(events)
    for _ in range(rng.choice([1, 1, 2])):
        event = rng.choice(forged)
        *parents, last = rng.choice(leaves(event["data"]))
        target = event["data"]
        for name in parents:
            target = target[name]
        target[last] = rng.choice(with_value(target[last]))
    return forged


def answer(confirm: Any, events: list[dict[str, Any]], panel_models: dict[str, Any]) -> int | None:
    """A cheap path's answer as ``confirm_stream`` takes it (an exception: None)."""
    try:
        return confirm(copy.deepcopy(events), panel_models.get, RULEBOOKS)  # type: ignore[no-any-return]
    except Exception:
        return None


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(rulebook=st.sampled_from(CURRENT), members=st.integers(1, 6), rng=st.randoms(use_true_random=False),
       data=st.data())
def test_the_plain_path_confirms_only_what_the_model_path_confirms(monkeypatch, rulebook, members, rng, data):
    """``_confirm_plain`` (dicts) against ``_confirm`` (the contract models) on a stream and 40 forgeries of one or
    two of its fields, anywhere in its events' data: the plain path never confirms what the models would not, and
    the verify's findings (messages and event ids) are the same with both cheap paths, with the models' alone and
    with scoring's replay alone."""
    level = data.draw(st.sampled_from([rule.level for rule in rulebook.levels]))
    events, panel = stream_of(rulebook, level, members, rng.random() < 0.5, rng.choice)
    panels = {events[0]["data"]["round_id"]: panel}
    panel_models = {k: rules.PanelFormed.model_validate(v["data"]) for k, v in panels.items()}
    assert _confirm_plain(events, panel_models.get, RULEBOOKS) == 2 == _confirm(events, panel_models.get, RULEBOOKS)
    streams = [("untouched", events)]
    for k in range(40):
        forged = near_forgery(rng, events)
        plain_answer = answer(_confirm_plain, forged, panel_models)
        assert plain_answer in (None, answer(_confirm, forged, panel_models)), forged
        streams.append((f"forged {k}", forged))
    both = findings_of(streams, panels, True, monkeypatch)
    monkeypatch.setattr(audit_recompute, "_confirm_plain", lambda *a: None)
    assert both == findings_of(streams, panels, True, monkeypatch) == findings_of(streams, panels, False, monkeypatch)


@settings(max_examples=1000)
@given(st.text(), st.text(), st.text())
def test_the_plain_paths_associated_data_is_scorings(dossier_id: str, sheet_id: str, member_id: str) -> None:
    """``sheet_aad`` writes the bytes ``canonical_json`` writes of scoring's ``sheet_context`` (or refuses: a lone
    surrogate, which no JSON read holds)."""
    try:
        written = sheet_aad(dossier_id, sheet_id, member_id)
    except TypeError:
        return
    assert written == canonical_json(sheet_context(dossier_id, "score.submitted", sheet_id, member_id, 1))


# ---- the compiled sheet opening (binhchon_audit_core.open_sheets, ADR 0059) -----------------------------------

ODD_TIMES = ["2026-11-20T01:00:00Z", "2026-11-20T01:00:00.5Z", "2026-11-20T01:00:00.123456789Z", "2026-02-29T01:00:00Z",
             "2024-02-29T01:00:00+07:00", "2026-11-20 01:00:00Z", "2026-11-20T24:00:00Z", "2026-11-20T01:00:60Z",
             "2026-11-20T01:00:00+24:00", "2026-11-20T01:00:00-23:59", "2026-11-20T01:00Z", "20261120T010000Z",
             "2026-11-20T01:00:00", "2026-13-01T00:00:00Z", "0000-01-01T00:00:00Z", "2026-11-20T01:00:00.123+0700",
             "2026-11-20T01:00:00z", " 2026-11-20T01:00:00Z", "2026-11-31T00:00:00Z"]
ODD_ATTRIBUTES: list[tuple[str, Any]] = [
    ("streamversion", "2"), ("streamversion", 2.0), ("streamversion", True), ("streamversion", None),
    ("dataschema", "https://schemas.binhchon.vn/events/score.submitted/v02.json"),
    ("dataschema", "https://schemas.binhchon.vn/events/score.submitted/v2"),
    ("dataschema", "https://schemas.binhchon.vn/events/score.submitted/v.json"),
    ("dataschema", "https://schemas.binhchon.vn/events/score.submitted/v 2.json"), ("dataschema", 2),
    ("actorroles", ["judge"]), ("actorroles", ""), ("type", "score.amended"), ("subject", None), ("hash", KeyError),
    ("causationid", KeyError), ("data", None), *(("time", t) for t in ODD_TIMES)]
ODD_POINTS: list[Any] = [2.5, "3", True, None, 1e1, 2.25, 1e15, -0.0, -1.5, 0, 2**40, 2**40 - 0.5, 1.0e-1, [3], 3.0]


def sheets_of(events: list[dict[str, Any]], panel: dict[str, Any]) -> tuple[Any, ...]:
    opened, completed = events[0]["data"], events[-2]["data"]
    rulebook = RULEBOOKS.get(completed["rulebook_id"], completed["rulebook_version"])
    key = DossierKey.from_revealed(completed["sealing_key"])
    scorers = audit_recompute._scorers(rules.PanelFormed.model_validate(panel["data"]))
    layout = audit_recompute._layout(rulebook, rulebook.find_sheet(opened["sheet_id"]))
    return opened["dossier_id"], key, scorers, layout


def python_sheets(raws: list[bytes], stream: tuple[Any, ...]) -> Any:
    """What ``_confirm_plain`` makes of the raw sheets: every one readable and a ``score.submitted``, then opened."""
    try:
        events = [read_event(raw)[0] for raw in raws]
        for event in events:
            audit_recompute._readable(event)
        if any(e["type"] != "score.submitted" for e in events):
            return None
        return audit_recompute._opened_sheets(events, *stream)
    except Exception:
        return "raised"


def resealed(event: dict[str, Any], dossier_id: str, key: Any, text: bytes) -> None:
    """``event``'s sealed marks replaced by ``text``, sealed as scoring seals them."""
    sheet, nonce = event["data"], bytes(range(12))
    ciphertext = AESGCM(key.key).encrypt(nonce, text, sheet_aad(dossier_id, sheet["sheet_id"], sheet["member_id"]))
    sheet["sealed"] = {**sheet["sealed"], "nonce": b64(nonce), "ciphertext": b64(ciphertext)}


def marks_text(rng: Any, stream: tuple[Any, ...]) -> tuple[bytes, bool]:
    """Marks a careless or hostile scorer's client could seal: odd points, codes twice, missing or extra, odd JSON;
    and whether no name is given twice in an object (the compiled reading leaves those to the Python path)."""
    layout = stream[3]
    scores = [{"code": code, "points": rng.choice([0, 1, 1.5, 2, 3])} for code in layout.criteria]
    change = rng.randrange(10)
    if change == 0:
        rng.choice(scores)["points"] = rng.choice(ODD_POINTS)
    elif change == 1:
        scores.append({"code": rng.choice(layout.criteria), "points": rng.choice([0, 2.5, 7])})
    elif change == 2:
        del scores[rng.randrange(len(scores))]
    elif change == 3:
        scores.append({"code": "extra-criterion", "points": rng.choice([1, -1.5, 0.25])})
    elif change == 4:
        scores = []
    elif change == 5:
        rng.choice(scores)["code"] = rng.choice([1, None, "", "a"])
    text = orjson.dumps({"scores": scores, "total": rng.choice([None, 3, "x"]), "note": "x"})
    if change == 6:
        text = text.replace(b'"note":"x"', rng.choice([b'"scores":[]', b'"total":1']))  # a name twice: the last is read
    elif change == 9:
        text = text.replace(b'"total"', b'"totals"')  # no total: scoring's replay cannot read the marks
    elif change == 7:
        text = text.replace(b'"points":', b'"points":1,"points":', 1)  # a name twice in a score
    elif change == 8:
        text = text.replace(b"1.5", b"1.50e0").replace(b":2,", b": 2 ,")
    return text, change not in (6, 7)


@pytest.mark.skipif(audit_recompute.open_sheets is None, reason="binhchon_audit_core is built by `uv sync` with cargo")
@settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(rulebook=st.sampled_from(CURRENT), members=st.integers(1, 6), rng=st.randoms(use_true_random=False),
       data=st.data())
def test_the_compiled_sheets_open_as_the_python_ones(rulebook, members, rng, data):
    """``open_sheets`` (Rust, from the raw records) answers what ``_opened_sheets`` (Python, on the events read)
    answers, or leaves the stream to it, on 150 forgeries per stream: the sheets' data changed as in the test above,
    their attributes odd (times, versions, schemas, roles, missing ones), names given twice in the record, marks
    resealed with odd points, codes twice, missing or extra, and odd JSON. It answers the untouched stream and most
    resealed marks (else it would save nothing)."""
    level = data.draw(st.sampled_from([rule.level for rule in rulebook.levels]))
    events, panel = stream_of(rulebook, level, members, rng.random() < 0.5, rng.choice)
    stream = sheets_of(events, panel)
    untouched = [orjson.dumps(e) for e in events[1:-2]]
    assert audit_recompute._compiled_sheets(untouched, *stream) == python_sheets(untouched, stream) is not None
    answered = opened = 0
    for k in range(150):
        sheets = copy.deepcopy(events[1:-2])
        event = rng.choice(sheets)
        kind, ordinary = k % 5, True
        if kind == 0:
            *parents, last = rng.choice(leaves(event["data"]))
            target = event["data"]
            for name in parents:
                target = target[name]
            target[last] = rng.choice(with_value(target[last]))
        elif kind == 1:
            name, value = rng.choice(ODD_ATTRIBUTES)
            if value is KeyError:
                del event[name]
            else:
                event[name] = value
        elif kind in (2, 3):
            text, ordinary = marks_text(rng, stream)
            resealed(event, stream[0], stream[1], text)
        raws = [orjson.dumps(e) for e in sheets]
        if kind == 4:  # a name twice in the record (json.loads keeps the last)
            at = rng.randrange(len(raws))
            raws[at] = raws[at][:-1] + rng.choice([b',"time":"2026-11-20T01:00:00Z"}', b',"type":"score.amended"}',
                                                   b',"data":{}}', b',"streamversion":"3"}'])
        if rng.random() < 0.1:
            rng.shuffle(raws)
        compiled = audit_recompute._compiled_sheets(raws, *stream)
        expected = python_sheets(raws, stream)
        assert compiled is None or compiled == expected, (raws, compiled, expected)
        if kind in (0, 2, 3) and ordinary and isinstance(expected, audit_recompute.Marks):
            opened += 1  # (odd attributes and names given twice it leaves on purpose)
            answered += compiled is not None
    assert answered == opened > 0


@pytest.mark.skipif(audit_recompute.open_sheets is None, reason="binhchon_audit_core is built by `uv sync` with cargo")
@settings(max_examples=4, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(rulebook=st.sampled_from(CURRENT), members=st.integers(1, 6), rng=st.randoms(use_true_random=False),
       data=st.data())
def test_the_verify_of_raw_streams_finds_the_same_with_the_compiled_sheets(rulebook, members, rng, data):
    """The decisions' check of raw streams (as the verify's workers get them), untouched and altered as above:
    the same findings with the compiled decider and sheet opening as with scoring's replay alone, and the untouched
    confirmed."""
    level = data.draw(st.sampled_from([rule.level for rule in rulebook.levels]))
    events, panel = stream_of(rulebook, level, members, rng.random() < 0.5, rng.choice)
    panels = {events[0]["data"]["round_id"]: panel}
    streams: list[tuple[str, list[Any]]] = [("untouched", events)]
    for name, index, path, value in ALTERATIONS:
        altered = copy.deepcopy(events)
        if value is flip:
            value = flip(altered[index]["data"]["sealed"][path.split(".")[-1]])
        set_in(altered[index], path, value)
        streams.append((name, altered))
    stream = sheets_of(events, panel)
    for k in range(10):
        resealed_stream = copy.deepcopy(events)
        resealed(rng.choice(resealed_stream[1:-2]), stream[0], stream[1], marks_text(rng, stream)[0])
        streams.append((f"resealed {k}", resealed_stream))
    raw_streams = [(name, [orjson.dumps(e) for e in stream_events]) for name, stream_events in streams]

    def findings(compiled: bool) -> tuple[list[Any], int]:
        with pytest.MonkeyPatch.context() as patch:
            if not compiled:
                patch.setattr(audit_decisions, "confirm_raws", lambda *a: None)
                patch.setattr(audit_decisions, "compiled_decider", lambda *a: None)
            found = Findings()
            checked = _check_streams(raw_streams, panels, RULEBOOKS, found)
        return [(d.check, d.subject, d.message, d.event_ids) for d in found.discrepancies], checked

    assert audit_recompute.confirm_raws(raw_streams[0][1], True, {events[0]["data"]["round_id"]: rules.PanelFormed
                                        .model_validate(panel["data"])}.get, RULEBOOKS) == 2
    with_compiled = findings(True)
    assert with_compiled == findings(False)
    assert "untouched" not in {subject for _, subject, _, _ in with_compiled[0]}


@pytest.mark.parametrize("marks", [{"scores": [{"code": "A1.1", "points": 1}]}, {"scores": [], "total": 0},
                                   {"scores": [{"code": "A1.1", "points": [1]}], "total": 1}])
def test_forged_marks_scoring_never_seals_are_named_not_a_crash(marks: dict[str, Any]) -> None:
    """Marks sealed with the dossier's key but not as scoring seals them (no total, a criterion missing, points of
    another type): the verify names the completion, where scoring's own replay used to raise out of it."""
    rulebook = RULEBOOKS.get("ocop-2025", 2) or CURRENT[0]
    events, panel = stream_of(rulebook, rulebook.levels[0].level, 3, False, lambda points: points[-1])
    stream = sheets_of(events, panel)
    resealed(events[1], stream[0], stream[1], orjson.dumps(marks))
    found = Findings()
    _check_streams([("forged", [orjson.dumps(e) for e in events])], {events[0]["data"]["round_id"]: panel}, RULEBOOKS,
                   found)
    messages = [d.message for d in found.discrepancies]
    assert any("not a sheet's marks" in m or "cannot be recomputed" in m for m in messages), messages
