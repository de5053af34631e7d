"""The audit's hash check (``audit_chain.read_values``, through the kit's faster RFC 8785 path) against RFC 8785 as
the ``rfc8785`` package writes it: an untouched event, published as a relay writes it (its own attribute order,
``hash`` last), holds its hash; a tampered one holds it exactly when the reference says so, and is named with the
same event id and stream, whatever the faster checks saw (exponents, -0.0, integral floats, UUID-like ``e-``,
characters beyond the BMP)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from binhchon_kit.canonical import HASH_ALG, HASHED_ATTRIBUTES
from binhchon_tools.audit_chain import read_values

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
