"""The audit's hash check (``audit_chain.read_values``, through the kit's faster RFC 8785 path) against RFC 8785 as
the ``rfc8785`` package writes it: an untouched event, published as a relay writes it (its own attribute order,
``hash`` last), holds its hash; a tampered one holds it exactly when the reference says so, and is named with the
same event id and stream, whatever the faster checks saw (exponents, -0.0, integral floats, UUID-like ``e-``,
characters beyond the BMP)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from binhchon_kit.canonical import HASH_ALG, HASHED_ATTRIBUTES, read_json
from binhchon_tools.audit_chain import Kept, read_values
from binhchon_tools.audit_decisions import Log

TRICKY = st.sampled_from([40.0, 7.5, -0.0, 0.0, 1e16, 1e21, 1e-7, 2.5e-6, 1e-5, 2**53 - 1, -(2**53) + 1, "e-5",
                          ":1e+5", ",7.0]", "44f28afb-055e-47c0-404e-ace4", "\U0001f602", "\ufb33", "x-0.0", ""])
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1),
                   st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12), TRICKY)
DATA = st.dictionaries(st.text(max_size=6), st.one_of(VALUES, st.lists(VALUES, max_size=3)), max_size=6)


def published(data: Any) -> dict[str, Any]:
    event = {"specversion": "1.0", "id": "5d639908-7f93-4d7b-92ec-8e57fad5e19e", "source": "/binhchon/scoring",
             "type": "score.submitted", "subject": "dossier-1", "time": "2026-11-20T01:00:00.042Z",
             "datacontenttype": "application/json",
             "dataschema": "https://schemas.binhchon.vn/events/score.submitted/v2.json", "data": data,
             "correlationid": "c", "causationid": "c", "actorid": "cm-1", "actorroles": "judge",
             "streamid": "scoring-1", "streamversion": 2, "prevhash": "0" * 64, "hashalg": HASH_ALG}
    return event


def reference(event: dict[str, Any]) -> str | None:
    try:
        return hashlib.sha256(rfc8785.dumps({k: event[k] for k in HASHED_ATTRIBUTES if k in event})).hexdigest()
    except Exception:  # rfc8785 refuses it: no hash can hold
        return None


@settings(max_examples=1500)
@given(DATA, st.text(max_size=6), st.one_of(VALUES, st.lists(VALUES, max_size=3)))
def test_the_hash_check_names_what_rfc8785_says_was_changed(data: dict[str, Any], name: str, value: Any) -> None:
    event = published(data)
    claimed = reference(event)
    assume(claimed is not None)
    event["hash"] = claimed
    untouched = read_values([orjson.dumps(event)])[0]
    assert untouched is not None and untouched[:4] == ("scoring-1", 2, event["id"], claimed) and untouched[9]
    tampered = {**event, "data": {**data, name: value}}
    read = read_values([orjson.dumps(tampered)])[0]
    assert read is not None and read[:4] == ("scoring-1", 2, event["id"], claimed)
    assert read[9] is (reference(tampered) == claimed)


LONG = st.one_of(st.integers(), st.integers(2**63 - 2, 2**64 + 2), st.integers(-(2**63) - 2, -(2**63) + 2),
                 st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=4))


@settings(max_examples=300)
@given(st.lists(st.dictionaries(st.text(max_size=4), st.one_of(LONG, st.lists(LONG, max_size=3)), max_size=4),
                min_size=1, max_size=4),
       st.sampled_from(["score.submitted", "scoring.completed", "result.approved"]))
def test_a_raw_read_exact_by_the_workers_is_read_again_to_the_same_value(datas: list[dict[str, Any]],
                                                                         kind: str) -> None:
    """The decisions and the ``Log`` read a raw the workers' ``read_json`` answered exact with ``orjson.loads``
    alone (ADR 0042, 2026-11-30): the values are ``read_json``'s (numbers beyond 64 bits, which orjson reads
    otherwise, included), and a stream holding any raw not read exact is read as before."""
    raws = []
    for version, data in enumerate(datas, start=1):
        if kind == "result.approved":  # what the cross-service checks read of a result (the keys drawn are shorter)
            data = {"dossier_id": "d-1", "round_id": "r-1", "rating": {"recognised": True}, **data}
        event = {**published(data), "type": kind, "streamversion": version, "hash": "0" * 64}
        raws.append(json.dumps(event, ensure_ascii=False).encode())
    reads = read_values(raws)
    kept = []
    for raw, read in zip(raws, reads, strict=True):
        assert read is not None
        assert read[11] is read_json(raw)[1]
        kept.append(Kept(read[0], read[1], read[5], raw, read[10], read[11]))
    log = Log(kept)
    assert log.streams == {"scoring-1": raws}
    assert (log.exact == {"scoring-1"}) is all(read_json(raw)[1] for raw in raws)
    expected = [read_json(raw)[0] for raw in raws]
    assert Log.events(raws) == expected
    if log.exact:
        assert Log.exact_events(raws) == expected
        assert [type(e["data"]) for e in Log.exact_events(raws)] == [dict] * len(raws)
    if kind == "scoring.completed":  # read only in a log holding fees or prize schedules (``Log.index``)
        assert log.of_type[kind] == []
        schedule = orjson.dumps({**published({"round_id": "r-1"}), "type": "prize_schedule.set", "streamid": "c-1"})
        log = Log([*kept, Kept("c-1", 1, "prize_schedule.set", schedule, None, False)])
    if kind != "score.submitted":  # the types the cross-service checks look up: parsed by the Log itself
        assert log.of_type[kind] == expected
