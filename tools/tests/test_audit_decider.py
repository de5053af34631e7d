"""The compiled decider (``binhchon_audit_core.Decider``, ADR 0059) confirms only what ``confirm_raws`` confirms.

It reads a common scoring stream's raw records, recomputes its completion and its result (the aggregation in half
points, the rating, scoring's ``decide``, the Vietnamese reason of a refusal) and compares them type for type: a
``True`` from it stands for ``confirm_raws``' 2, and the stream's other checks are skipped. So every stream it
confirms must be one ``confirm_raws`` confirms, on streams made by scoring's own code under every bundled
rulebook and level, and on forgeries of every field of every event, of the records' attributes and of the sealed
marks; and it must confirm the untouched streams, approved or not recognised (else it would save nothing)."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from binhchon_tools import audit_recompute
from binhchon_tools.audit_findings import Findings
from scoring.domain import scoring as rules
from tools.tests.test_audit_recompute import (
    ALTERATIONS,
    CURRENT,
    ODD_ATTRIBUTES,
    RULEBOOKS,
    flip,
    marks_text,
    near_forgery,
    resealed,
    set_in,
    sheets_of,
    stream_of,
)

pytestmark = pytest.mark.skipif(audit_recompute.Decider is None,
                                reason="binhchon_audit_core is built by `uv sync` with cargo")


def decider_for(panels: dict[str, dict[str, Any]]) -> Any:
    models = {k: rules.PanelFormed.model_validate(v["data"]) for k, v in panels.items()}
    return audit_recompute.compiled_decider(models.get, panels, RULEBOOKS), models


def python_answer(raws: list[bytes], models: dict[str, Any]) -> int | None:
    return audit_recompute.confirm_raws(raws, False, models.get, RULEBOOKS)


@pytest.mark.parametrize("rulebook", CURRENT, ids=lambda b: f"{b.id}@{b.version}")
def test_it_confirms_every_untouched_stream_approved_or_not(rulebook: Any) -> None:
    """Every level of every bundled rulebook, the lowest points (not recognised, mandatory criteria unmet), the
    highest and the middle (approved, or forwarded a level up): each confirmed, as Python confirms it."""
    streams, panels = [], {}
    for rule in rulebook.levels:
        for pick in (min, max, lambda points: points[len(points) // 2]):
            events, panel = stream_of(rulebook, rule.level, 5, True, pick)
            panels[events[0]["data"]["round_id"]] = panel
            streams.append([orjson.dumps(e) for e in events])
    decider, models = decider_for(panels)
    types = {orjson.loads(raws[-1])["type"] for raws in streams}
    assert decider.confirm_streams(streams) == [True] * len(streams)
    assert all(python_answer(raws, models) == 2 for raws in streams)
    assert types == {"result.approved", "result.not_recognised"}, types


def forgeries(rng: Any, events: list[dict[str, Any]], panel: dict[str, Any]) -> list[list[bytes]]:
    """The stream altered as a forger could: every named alteration, 60 fields of any event's data given a near
    value, odd attributes, resealed marks, names given twice in a record, events dropped, doubled or reordered."""
    found: list[list[dict[str, Any]]] = []
    for _, index, path, value in ALTERATIONS:
        altered = copy.deepcopy(events)
        if value is flip:
            value = flip(altered[index]["data"]["sealed"][path.split(".")[-1]])
        set_in(altered[index], path, value)
        found.append(altered)
    found += [near_forgery(rng, events) for _ in range(60)]
    for _ in range(20):
        forged = copy.deepcopy(events)
        name, value = rng.choice(ODD_ATTRIBUTES)
        event = rng.choice([forged[0], forged[-2], forged[-1]])
        if value is KeyError:
            event.pop(name, None)
        else:
            event[name] = value
        found.append(forged)
    stream = sheets_of(events, panel)
    for _ in range(10):
        forged = copy.deepcopy(events)
        resealed(rng.choice(forged[1:-2]), stream[0], stream[1], marks_text(rng, stream)[0])
        found.append(forged)
    raws = [[orjson.dumps(e) for e in forged] for forged in found]
    whole = [orjson.dumps(e) for e in events]
    raws += [whole[:1] + whole[2:], whole[:2] + whole[1:], [whole[0], *whole[1:-2][::-1], *whole[-2:]],
             whole[:-1] + whole[-2:-1], whole[:-2] + whole[-1:] + whole[-2:-1]]
    for at in (0, len(whole) - 2, len(whole) - 1):  # a name twice in the record (json.loads keeps the last)
        for tail in (b',"type":"score.amended"}', b',"data":{}}', b',"streamversion":"3"}'):
            twice = list(whole)
            twice[at] = twice[at][:-1] + tail
            raws.append(twice)
    return raws


@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(rulebook=st.sampled_from(CURRENT), members=st.integers(1, 7), rng=st.randoms(use_true_random=False),
       data=st.data())
def test_it_confirms_only_what_python_confirms(rulebook, members, rng, data):
    """~110 forgeries per stream: the decider's True is always ``confirm_raws``' 2; and where Python confirms a
    forgery (a change that does not matter, e.g. the same value), the decider mostly does too."""
    level = data.draw(st.sampled_from([rule.level for rule in rulebook.levels]))
    events, panel = stream_of(rulebook, level, members, rng.random() < 0.5, rng.choice)
    panels = {events[0]["data"]["round_id"]: panel}
    decider, models = decider_for(panels)
    streams = [[orjson.dumps(e) for e in events], *forgeries(rng, events, panel)]
    answers = decider.confirm_streams(streams)
    assert answers[0] is True
    for raws, compiled in zip(streams, answers, strict=True):
        if compiled:
            assert python_answer(raws, models) == 2, [orjson.loads(raw) for raw in raws]


@pytest.mark.parametrize("at", [0, -2, -1])
def test_a_record_with_an_integer_python_cannot_read_is_left_to_python(at: int) -> None:
    """An attribute holding an integer of more digits than Python reads from text (4,300): ``confirm_raws`` cannot
    read the record, so the decider must not confirm the stream (found by review: it did)."""
    rulebook = CURRENT[0]
    events, panel = stream_of(rulebook, rulebook.levels[0].level, 3, False, max)
    decider, models = decider_for({events[0]["data"]["round_id"]: panel})
    raws = [orjson.dumps(e) for e in events]
    for digits, readable in ((4300, True), (4301, False)):
        forged = list(raws)
        forged[at] = forged[at][:-1] + b',"traceparent":' + b"7" * digits + b"}"
        assert decider.confirm_streams([forged]) == [readable]
        assert (python_answer(forged, models) == 2) is readable


def test_a_stream_without_its_panel_or_rulebook_is_left_to_python() -> None:
    rulebook = CURRENT[0]
    events, panel = stream_of(rulebook, rulebook.levels[0].level, 3, False, max)
    raws = [orjson.dumps(e) for e in events]
    decider, _ = decider_for({})
    assert decider.confirm_streams([raws]) == [False]
    completed = copy.deepcopy(events)
    completed[-2]["data"]["rulebook_version"] = 99
    decider, _ = decider_for({events[0]["data"]["round_id"]: panel})
    assert decider.confirm_streams([[orjson.dumps(e) for e in completed], raws]) == [False, True]


def test_the_verify_counts_what_the_decider_confirmed_and_checks_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    """``check_decisions``' two halves on a log of Python's own: the decider confirms, Python names what it
    leaves."""
    from binhchon_tools import audit_decisions
    from binhchon_tools.audit_decisions import finish_decisions, start_decisions

    made: list[Any] = []

    def spied(*args: Any) -> Any:
        made.append(audit_recompute.compiled_decider(*args))
        return made[-1]

    monkeypatch.setattr(audit_decisions, "compiled_decider", spied)

    rulebook = CURRENT[0]
    events, panel = stream_of(rulebook, rulebook.levels[0].level, 3, False, max)
    forged = copy.deepcopy(events)
    forged[-2]["data"]["average_total"] = 1.5

    log = SimpleNamespace(streams={"good": [orjson.dumps(e) for e in events],
                                   "forged": [orjson.dumps(e) for e in forged]},
                          decided={"good", "forged"}, panels={events[0]["data"]["round_id"]: panel}, exact=set())
    findings = Findings()
    finish_decisions(start_decisions(log, None, RULEBOOKS), findings)  # type: ignore[arg-type]
    assert made and made[0] is not None  # the decider was asked
    assert findings.counts["decisions_recomputed"] == 4
    assert {d.subject for d in findings.discrepancies} == {"forged"}
    assert forged[-2]["id"] in {d.event_ids[0] for d in findings.discrepancies}
