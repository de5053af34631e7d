"""The compiled reader (``binhchon_audit_core``, ADR 0059) answers what the kit's Python answers, or leaves the
record to it: its RFC 8785 form is the ``rfc8785`` package's byte for byte, and every record it reads gives the
tuple ``audit_chain.read_value`` gives (hash held or not, exactness, every field), on real events, on forged and
odd ones, and on bytes that are hardly JSON."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from binhchon_kit.canonical import HASH_ALG, cloudevent_hash
from binhchon_tools.audit_chain import CHECKPOINT_TYPE, read_value

audit_core = pytest.importorskip("binhchon_audit_core", reason="built by `uv sync` (needs cargo)")

FLOATS = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                   st.sampled_from([1e16, 1e21, 1e-6, 1e-7, 9.999999999999999e20, 5e-324, -0.0, 1.7976931348623157e308,
                                    0.1, 100.0, 1e15 + 0.5, 2.0**53, 2.0**53 + 2, 123456789012345680000.0]))
INTS = st.one_of(st.integers(-(2**53) + 1, 2**53 - 1), st.integers(-(2**64), 2**64))
TEXTS = st.one_of(st.text(max_size=8), st.sampled_from(["\U0001f602", "\ue000", "\uffff", "\x00\x1f\x7f", "\u2028",
                                                         '"\\/', "e-6", ":1234567890123456789"]))
SCALARS = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXTS)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(TEXTS, inner, max_size=4)), max_leaves=20)


def test_it_holds_the_kits_definitions() -> None:
    """The scheme's name, the hashed attributes, the genesis link and the checkpoint type, as the kit has them."""
    from binhchon_kit.canonical import GENESIS_HASH, HASHED_ATTRIBUTES

    assert (audit_core._core.HASH_ALG, tuple(audit_core._core.HASHED_ATTRIBUTES), audit_core._core.GENESIS,
            audit_core._core.CHECKPOINT_TYPE) == (HASH_ALG, HASHED_ATTRIBUTES, GENESIS_HASH, CHECKPOINT_TYPE)


def python_canonical(text: bytes) -> bytes | None:
    try:
        return rfc8785.dumps(json.loads(text))
    except Exception:
        return None


@settings(max_examples=3000)
@given(VALUES, st.sampled_from(["compact", "spaced", "ascii"]))
@example({"\U0001f602": 1, "\ue000": 2, "a": [1e21, 1e-7, -0.0, 97.0]}, "compact")
def test_its_canonical_form_is_rfc8785s(value: Any, style: str) -> None:
    """Every JSON text ``json.loads`` reads and ``rfc8785`` writes gets the same bytes; where it answers nothing,
    ``rfc8785`` refuses the value too (an integer beyond 2^53 - 1) or the text is deeper than it reads."""
    text = {"compact": lambda: orjson.dumps(value) if _orjson_writes(value) else json.dumps(value).encode(),
            "spaced": lambda: json.dumps(value, indent=1, ensure_ascii=False).encode(),
            "ascii": lambda: json.dumps(value).encode()}[style]()
    expected = python_canonical(text)
    answered = audit_core.canonical_form(text)
    if answered is None:
        assert expected is None
    else:
        assert answered == expected


def _orjson_writes(value: Any) -> bool:
    try:
        orjson.dumps(value)
        return True
    except orjson.JSONEncodeError:
        return False


@pytest.mark.parametrize("text", [b"[-0, -0.0, 0, 0.0, -0e5, 1E2, 1e+2, 1.50, 9007199254740991, -9007199254740991]",
                                  b'{"b":1,"a":2,"b":3,"\\u0062":4}', b'["\\u0041\\u00e9\\ud83d\\ude02\\/\\b\\u001F"]',
                                  b'{"\\ue000":1,"\\ud83d\\ude02":2,"\\uffff":3,"\\u00ff":4}', b" [ 1 , { } , [ ] ] \n",
                                  b"[123456789012345678901234567890.5, 1e-400, 4.9e-324]"])
def test_it_writes_these_as_rfc8785_does(text: bytes) -> None:
    assert audit_core.canonical_form(text) == python_canonical(text) is not None


@pytest.mark.parametrize("text", [b"[9007199254740992]", b"[-9007199254740992]", b"[123456789012345678901]"])
def test_it_leaves_integers_rfc8785_refuses(text: bytes) -> None:
    assert audit_core.canonical_form(text) is None and python_canonical(text) is None


@pytest.mark.parametrize("text", [b"[NaN]", b"[Infinity]", b"[1e400]", b'["\\ud800"]', b'["\\udc00x"]', b"[1,]",
                                  b"\xef\xbb\xbf[1]", b'["\xff"]', b'["a\x01"]', b"[01]", b"[1.]", b"[.5]", b"{'a':1}",
                                  b"[" * 200 + b"]" * 200, b"", b"[1] x", b'{"a" 1}', b"[-]", b"[1e]", b"tru"])
def test_it_leaves_what_is_not_strict_json(text: bytes) -> None:
    assert audit_core.canonical_form(text) is None


def event_of(data: Any, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "specversion": "1.0", "id": "5d639908-7f93-4d7b-92ec-8e57fad5e19e", "source": "/binhchon/scoring",
        "type": "score.submitted", "subject": "dossier-1", "time": "2026-11-20T01:00:00.042Z",
        "datacontenttype": "application/json",
        "dataschema": "https://schemas.binhchon.vn/events/score.submitted/v2.json", "data": data,
        "correlationid": "c", "causationid": "c", "actorid": "cm-1", "actorroles": "judge",
        "streamid": "scoring-1", "streamversion": 2, "prevhash": "0" * 64, "hashalg": HASH_ALG}
    try:
        event["hash"] = cloudevent_hash(event)
    except Exception:
        event["hash"] = "0" * 64
    event.update(changes)
    return event


def both(values: list[bytes]) -> None:
    """Each record the compiled reader answers, it answers as the kit's Python does."""
    native = audit_core.read_values(values, [CHECKPOINT_TYPE])
    assert len(native) == len(values)
    for value, answer in zip(values, native, strict=True):
        if answer is not None:
            assert answer == read_value(value), value


ODD = st.one_of(SCALARS, st.lists(SCALARS, max_size=2), st.dictionaries(TEXTS, SCALARS, max_size=2))
ATTRIBUTES = st.sampled_from(["id", "source", "type", "streamid", "streamversion", "prevhash", "hash", "hashalg",
                              "signature", "signaturekid", "data", "time", "traceparent", "specversion"])


@settings(max_examples=1500)
@given(VALUES, st.lists(st.tuples(ATTRIBUTES, st.one_of(ODD, st.just(None))), max_size=3),
       st.lists(ATTRIBUTES, max_size=2), st.sampled_from(["orjson", "json", "ascii", "spaced"]))
def test_it_reads_every_record_as_the_kits_python_does(data: Any, changes: list[tuple[str, Any]],
                                                        dropped: list[str], style: str) -> None:
    """Real events and forged ones (an attribute of another type, dropped, a number of any size, a string of any
    kind, written compact, spaced or ASCII-escaped): the same stream, version, id, hash, link, type, source,
    signature, hash check and exactness wherever the compiled reader answers."""
    event = event_of(data)
    for name, value in changes:
        event[name] = value
    for name in dropped:
        event.pop(name, None)
    try:
        text = {"orjson": lambda: orjson.dumps(event), "json": lambda: json.dumps(event, ensure_ascii=False).encode(),
                "ascii": lambda: json.dumps(event).encode(),
                "spaced": lambda: json.dumps(event, indent=2, ensure_ascii=False).encode()}[style]()
    except (orjson.JSONEncodeError, UnicodeEncodeError):
        return
    both([text])


def test_an_untouched_event_is_answered_by_it_and_holds_its_hash() -> None:
    value = orjson.dumps(event_of({"points": [7.5, 40.0], "note": "Sản phẩm \U0001f602", "n": 3}))
    (answer,) = audit_core.read_values([value], [CHECKPOINT_TYPE])
    assert answer is not None and answer[9] is True and answer == read_value(value)
    tampered = value.replace(b"7.5", b"8.5")
    (answer,) = audit_core.read_values([tampered], [CHECKPOINT_TYPE])
    assert answer is not None and answer[9] is False and answer == read_value(tampered)


@pytest.mark.parametrize("digits", [4300, 4301, 5000])
@pytest.mark.parametrize("where", ["data", "traceparent", "streamversion"])
def test_an_integer_python_cannot_read_from_text_is_left_to_it(digits: int, where: str) -> None:
    """Python reads at most ``sys.get_int_max_str_digits()`` digits of an integer from text (4,300): ``json.loads``
    refuses a longer literal, so the compiled reader must leave the record (found by review: the decider
    confirmed a stream whose opening carried one, which the Python path cannot read at all)."""
    import sys

    number = "7" * digits
    event = event_of({"n": 1})
    value = orjson.dumps(event).replace(b'"n":1', f'"n":{number}'.encode()) if where == "data" else \
        orjson.dumps({**event, where: 0}).replace(f'"{where}":0'.encode(), f'"{where}":{number}'.encode())
    (answer,) = audit_core.read_values([value], [CHECKPOINT_TYPE])
    if digits <= sys.get_int_max_str_digits():
        both([value])  # (answered where the number is outside what is hashed, else left: RFC 8785 refuses it)
        assert (answer is not None) is (where == "traceparent")
    else:
        assert answer is None  # the Python reader answers for it (``read_value``: what it makes of it)
        with pytest.raises(ValueError):
            json.loads(value)


def test_it_leaves_checkpoints_legacy_events_and_the_types_asked_whole() -> None:
    checkpoint = orjson.dumps(event_of({}, type=CHECKPOINT_TYPE))
    legacy = orjson.dumps({k: v for k, v in event_of({}).items() if k != "hashalg"})
    other_scheme = orjson.dumps(event_of({}, hashalg="sha1"))
    result = orjson.dumps(event_of({}, type="result.approved"))
    assert audit_core.read_values([checkpoint, legacy, other_scheme, result], [CHECKPOINT_TYPE, "result.approved"]) \
        == [None, None, None, None]


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(["1", "9", "0", "D", ":", ",", "[", " ", "-", ".", "a", "\n", "é", "\\t"]),
                max_size=60), st.sampled_from(["data", "time", "traceparent"]))
def test_its_exactness_is_the_kits_long_number_test(pieces: list[str], where: str) -> None:
    """``exact`` is ``read_json``'s: no run of 19 digits (or ``D``) right after ``:``, ``,``, ``[``, white space or
    ``-``, in a string or a number, anywhere in the record."""
    event = event_of({})
    event[where] = "".join(pieces)
    digits = "".join(p for p in pieces if p.isdigit())
    values = [orjson.dumps(event)]
    if digits:
        values.append(orjson.dumps(event)[:-1] + b',"n":' + digits.lstrip("0").encode()[:30] + b"}")
        values.append(orjson.dumps(event)[:-1] + b',"n":[' + ("1" * len(pieces)).encode() + b"]}")
    both(values)


def test_hardly_json_bytes_are_answered_alike_or_left() -> None:
    rng = random.Random(20261201)
    base = orjson.dumps(event_of({"points": [1, 2.5], "note": "ghi chú"}))
    values = []
    for _ in range(3000):
        mutated = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(mutated))
            action = rng.random()
            if action < 0.4:
                mutated[at] = rng.randrange(256)
            elif action < 0.7:
                del mutated[at]
            else:
                mutated.insert(at, rng.choice(b'"\\:,[]{}0123456789eE.-+ \t\n'))
        values.append(bytes(mutated))
    both(values)
    assert any(answer is not None for answer in audit_core.read_values(values, []))


# --------------------------------------------------------------------------------------- the chain check ---

TYPES = [("round.opened", "intake.events"), ("dossier.received", "intake.events"),
         ("score.submitted", "scoring.events"), ("scoring.completed", "scoring.events"),
         ("certificate.issued", "certification.events")]


def forged_log(rng: random.Random) -> list[Any]:
    """A few streams of linked, hashed events on their topics, then forged: copies identical and conflicting,
    versions dropped, links and contents changed (rehashed or not), wrong topics, unknown types, checkpoints,
    attributes of odd types, bytes that are not JSON, all in a shuffled order."""
    from binhchon_kit.topic_history import Record

    records: list[tuple[str, bytes, int]] = []
    for s in range(rng.randint(1, 5)):
        prev = "0" * 64
        kind, topic = rng.choice(TYPES)
        source = "/binhchon/" + topic.split(".")[0]
        for version in range(1, rng.randint(1, 6) + 1):
            event = event_of({"n": version, "note": rng.choice(["", "ghi chú", "\U0001f602", "1" * 20])},
                             id=f"e-{s}-{version}", streamid=f"stream-{s}", streamversion=version, prevhash=prev,
                             type=kind, source=source)
            event.pop("hash")
            event["hash"] = cloudevent_hash(event)
            if rng.random() < 0.3:
                event["signature"], event["signaturekid"] = rng.choice([("c2ln", "k1"), (["x"], 3), (None, "k")])
            prev = event["hash"]
            records.append((topic, orjson.dumps(event), rng.randint(0, 50)))
    forged = list(records)
    for _ in range(rng.randint(0, 6)):
        topic, value, stamp = rng.choice(records)
        event = json.loads(value)
        action = rng.randrange(10)
        if action == 0:
            forged.append((topic, value, stamp + rng.randint(-5, 5)))  # duplicate delivery
        elif action == 1:
            forged.append((topic, orjson.dumps({**event, "id": "other"}), stamp))  # a conflicting copy
        elif action == 2:
            forged = [r for r in forged if r[1] != value]  # dropped
        elif action == 3:
            event["prevhash"] = "f" * 64
            if rng.random() < 0.5:
                event.pop("hash")
                event["hash"] = cloudevent_hash(event)
            forged = [(t, orjson.dumps(event) if v == value else v, st) for t, v, st in forged]
        elif action == 4:
            forged.append((rng.choice(["scoring.events", "intake.events"]), value, stamp))  # another topic
        elif action == 5:
            forged.append((topic, orjson.dumps({**event, "type": "made.up", "id": "u"}), stamp))
        elif action == 6:
            cp = {**event, "type": CHECKPOINT_TYPE, "id": "cp", "data": {"origin": event["source"], "tree_size": 1}}
            forged.append((topic, orjson.dumps(cp), stamp))
        elif action == 7:
            odd = rng.choice(["2", 2.0, True, 10**20, -1])  # (beyond 2^127 it is named otherwise: ADR 0059)
            forged.append((topic, json.dumps({**event, "streamversion": odd}).encode(), stamp))
        elif action == 8:
            forged.append((topic, b"not json" + value[:20], stamp))
        else:
            forged.append((topic, orjson.dumps({k: v for k, v in event.items() if k != "hashalg"}), stamp))
    rng.shuffle(forged)
    return [Record("audit." + topic, rng.randrange(3), offset, value, stamp)
            for offset, (topic, value, stamp) in enumerate(forged)]


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 7))
def test_the_compiled_chain_check_finds_what_the_python_one_finds(rng: random.Random, batch: int) -> None:
    """Fed the same forged log in the same batches, the compiled bookkeeping answers the same findings in the
    same order and words, the same counts, and hands the other checks the same kept records, signatures,
    checkpoints and log order."""
    import asyncio

    from binhchon_tools.audit_chain import ChainCheck
    from binhchon_tools.audit_decisions import KEPT_TYPES

    records = forged_log(rng)
    checks = [ChainCheck("audit.", KEPT_TYPES, native=native) for native in (True, False)]
    for chain in checks:
        for at in range(0, len(records), batch):
            chain.feed(records[at:at + batch])
    compiled, python = (asyncio.run(chain.finish()) for chain in checks)
    assert checks[0].native is not None and checks[1].native is None
    assert compiled.discrepancies == python.discrepancies
    assert compiled.counts == python.counts
    assert [tuple(k) for k in checks[0].kept] == [tuple(k) for k in checks[1].kept]
    assert [tuple(s) for s in checks[0].signed] == [tuple(s) for s in checks[1].signed]
    assert checks[0].sources() == checks[1].sources()
    assert checks[0].checkpoints == checks[1].checkpoints
    if python.counts["events"] and checks[1].checkpoints:
        for origin in checks[1].log_order.by_origin:
            assert checks[0].log_order.events(origin) == checks[1].log_order.events(origin)
