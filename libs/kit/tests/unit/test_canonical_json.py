"""``canonical_json`` is RFC 8785 exactly: byte for byte what the ``rfc8785`` package writes (or the same refusal),
over arbitrary JSON values, through the C encoder's fast path or the fallback; and the RFC's own examples."""

from __future__ import annotations

import enum
import json
import math
import re
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from binhchon_kit.canonical import (
    _UNSAFE,
    HASHED_ATTRIBUTES,
    _exponent,
    _jcs_ready,
    _orjson_jcs,
    canonical_json,
    cloudevent_hash,
    hashed_attributes,
    read_json,
)

# Characters where encoders tend to differ: controls (named escapes and \u00xx), the two characters JSON must
# escape, DEL, U+2028/2029 (which ES5 JavaScript did not accept raw), the edges of the surrogate range (lone
# surrogates themselves cannot be UTF-8), U+E000..U+FFFF against characters beyond the BMP (the UTF-16 order
# of keys differs from the code point order there), and Vietnamese, composed and decomposed.
EDGES = ("\x00\x01\x07\b\t\n\x0b\f\r\x1f \"\\/'<>&\x7f\x80\x9f\xa0\u2028\u2029\ud7ff\ud800\udbff\udc00\udfff"
         "\ue000\uf8ff\ufb33\ufeff\ufffd\uffff\U00010000\U0001f602\U0010ffff€ö")
VIETNAMESE = "Hợp tác xã Nông nghiệp Đồng Hưng, xã Tân Mỹ, Bắc Giang: mật ong, vải thiều ƯỚC ĐẠT ★★★★ "
CHARACTERS = st.one_of(st.sampled_from(EDGES + VIETNAMESE + "e\u0301o\u0302\u0303"), st.characters())
TEXT = st.text(CHARACTERS, max_size=12)
SAFE = 2**53 - 1
INTEGERS = st.one_of(st.integers(-SAFE - 3, SAFE + 3), st.sampled_from([0, -1, SAFE, -SAFE, SAFE + 1, -SAFE - 1,
                                                                         2**63, -(2**64), 10**30]),
                     st.integers())
FLOATS = st.one_of(st.floats(), st.floats(-1e17, 1e17), st.integers(-2**54, 2**54).map(float),
                   st.integers(-10**6, 10**6).map(lambda n: n / 100), st.sampled_from([
                       0.0, -0.0, 1.0, -1.0, 97.33, 1e21, 1e20, 1e16, 1e16 - 2, 9999999999999998.0, 1e-7, 1e-6,
                       1e-4, 0.00010000000000000002, 9.999999999999999e-05, 4.5, 0.002, 1e30, 333333333.33333329,
                       5e-324, 1.7976931348623157e308, 2.0**53, 2.0**53 - 1, -(2.0**53), 0.1 + 0.2]))
SCALARS = st.one_of(st.none(), st.booleans(), INTEGERS, FLOATS, TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.tuples(inner, inner), st.dictionaries(TEXT, inner, max_size=6)), max_leaves=40)
# values without huge integers, with floats mostly in fixed notation: most take the fast path, which needs proving
PLAIN = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-SAFE, SAFE), TEXT, FLOATS),
                     lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(TEXT, inner, max_size=6)),
                     max_leaves=40)


def outcome(encode: Any, value: Any) -> tuple[str, Any]:
    try:
        return "bytes", encode(value)
    except Exception as exc:  # the refusal must be the same: the same exception class
        return "refused", type(exc)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
@example({"\U0001f602": 1, "\ufb33": 2, "\ue000": 3, "\uffff": 4})
@example({"\ud800": 1, "a": 2})
@example(["\ud800"])
@example({"a": 1.0, "b": 2**53, "c": [1e21, 1e-7]})
@example({1: "a"})
def test_canonical_json_is_rfc8785_byte_for_byte(value: Any) -> None:
    assert outcome(canonical_json, value) == outcome(rfc8785.dumps, value)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(PLAIN)
def test_the_fast_path_is_rfc8785_byte_for_byte(value: Any) -> None:
    assert outcome(canonical_json, value) == outcome(rfc8785.dumps, value)


def test_what_the_fast_path_takes_and_what_it_leaves() -> None:
    event = {"specversion": "1.0", "type": "dossier.received", "streamversion": 3, "data": {
        "producer": {"name": "HTX Đồng Hưng", "note": "dòng 1\ndòng 2\t\"trích\"\\\x7f\u2028"},
        "scores": [1, 2, -3], "escalated_from": None, "recognised": True, "\ue000": "x"}}
    assert _jcs_ready(event) is event  # nothing to change: encoded as it is
    assert canonical_json(event) == rfc8785.dumps(event)
    sheet = {"points": 97.33, "scores": [{"code": "C1", "points": 10.0}, {"code": "C2", "points": 7.5}]}
    ready = _jcs_ready(sheet)
    assert ready == {"points": 97.33, "scores": [{"code": "C1", "points": 10}, {"code": "C2", "points": 7.5}]}
    assert type(ready["scores"][0]["points"]) is int and type(sheet["scores"][0]["points"]) is float  # a copy
    assert canonical_json(sheet) == rfc8785.dumps(sheet) == b'{"points":97.33,"scores":[{"code":"C1","points":10},' \
        b'{"code":"C2","points":7.5}]}'
    for left in (1e-5, 1e16, 2.0**53, 2**53, -(2**53), float("inf"), {"\U0001f602": 1}, {1: 2},
                 enum.Enum("E", "A").A, {"a": {1, 2}}, type("S", (str,), {})("s"), type("I", (int,), {})(1),
                 type("D", (dict,), {})(), type("F", (float,), {})(0.5)):
        assert _jcs_ready(left) is _UNSAFE
        assert _jcs_ready([{"k": left}]) is _UNSAFE
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_json({"a": [2**53]})
    with pytest.raises(rfc8785.FloatDomainError):
        canonical_json(float("nan"))
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_json("\udfff")


def text_of(value: Any, ascii_only: bool, compact: bool) -> bytes:
    """``value`` as JSON text the way a producer may have written it (lone surrogates kept, as invalid UTF-8)."""
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(value, ensure_ascii=ascii_only, separators=separators).encode("utf-8", "surrogatepass")


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, PLAIN), st.booleans(), st.booleans())
@example({"a": 1.0, "b": [2.0, -3.0, 0.0, -0.0, 1e15 + 0.5, 2.0**53, 2.0**53 + 2, 9999999999999998.0, 1e16]},
         False, True)
@example({"s": "x:5.0,y", "n": 5.0, "t": "[7.0]", "u": "{\"k\":1.0}"}, False, True)
@example({"e": [1e-5, 1e-6, 2.5e-7, -1e-5, 1e20, 1e21, 1e22, 1.5e300, -1.5e-300]}, False, True)
@example({"id": "44f28afb-055e-47c0-404e-ace4", "x": "1e-5", "y": ":1e+5"}, False, True)
@example({"big": [2**53 - 1, 2**53, 2**63, 2**64, -(2**63) - 1, 10**19, 10**30]}, False, True)
@example({"\U0001f602": 1, "\ufb33": 2, "\ue000": 3}, False, True)
@example([float("nan"), float("inf")], False, True)
@example(5.0, False, True)
@example(["\ud800"], False, True)
@example(["\ud800"], True, True)
@example(12345678901234567890, False, True)
@example(-12345678901234567890, False, True)
def test_read_json_and_the_orjson_path_are_json_loads_and_rfc8785(value: Any, ascii_only: bool, compact: bool
                                                                  ) -> None:
    """What ``read_json`` reads is what ``json.loads`` reads (the same values of the same types), and an exact
    answer written by ``canonical_json(..., exact=True)`` (orjson) is what ``rfc8785`` writes of it (or the same
    refusal): the general path's proof, extended to the path the audit takes for every event it reads."""
    text = text_of(value, ascii_only, compact)
    expected = outcome(json.loads, text)
    read = outcome(read_json, text)
    assert read[0] == expected[0]
    if read[0] == "refused":
        assert read == expected
        return
    parsed, exact = read[1]
    assert repr(parsed) == repr(expected[1])  # repr tells 5 from 5.0, and NaN from None
    assert outcome(lambda v: canonical_json(v, exact=exact), parsed) == outcome(rfc8785.dumps, expected[1])
    if isinstance(parsed, dict):
        assert outcome(lambda v: cloudevent_hash(v, exact=exact), parsed) == outcome(cloudevent_hash, expected[1])


def test_what_the_orjson_path_takes_and_what_it_leaves() -> None:
    sheet, exact = read_json('{"type":"score.submitted","id":"44f28afb-055e-47c0-404e-ace4","data":{"scores":'
                             '{"C1":10.0,"C2":7.5,"C3":0.0},"note":"Trà 2.0 hạng A","total":17.5}}'.encode())
    assert exact and _orjson_jcs(sheet) == rfc8785.dumps(sheet) == (
        '{"data":{"note":"Trà 2.0 hạng A","scores":{"C1":10,"C2":7.5,"C3":0},"total":17.5},'
        '"id":"44f28afb-055e-47c0-404e-ace4","type":"score.submitted"}').encode()
    for left in ({"a": "x:5.0,y", "b": 1.0}, {"a": 1e-6}, {"a": 1e16}, {"a": -0.0}, {"a": 2**53}, 5.0,
                 {"\U0001f602": 1}, {"a": [1e21]}):
        assert _orjson_jcs(left) is None
        assert outcome(lambda v: canonical_json(v, exact=True), left) == outcome(rfc8785.dumps, left)
    assert read_json(b'{"n":12345678901234567890}') == ({"n": 12345678901234567890}, False)
    assert read_json(b'{"h":"0000000000000000000000000000"}') == ({"h": "0000000000000000000000000000"}, True)
    assert read_json(b'{"n":NaN}')[1] is False


# RFC 8785 §3.2.2 (values and escaping) and §3.2.3 (sorting), as the RFC prints them; the parsed inputs through
# ``canonical_json`` must give exactly the printed outputs.
RFC8785_EXAMPLES = [
    ('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
     ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
     '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
     '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'),
    ('{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh",'
     ' "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control\\u007f",'
     ' "\\u00f6": "Latin Small Letter O With Diaeresis"}',
     '{"\\r":"Carriage Return","1":"One","\u0080":"Control\x7f","ö":"Latin Small Letter O With Diaeresis",'
     '"€":"Euro Sign","\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'),
    ('{"Unnormalized Unicode": "\\u1e0d\\u0307"}', '{"Unnormalized Unicode":"\u1e0d\u0307"}'),
]


@pytest.mark.parametrize(("given_json", "expected"), RFC8785_EXAMPLES)
def test_rfc8785_examples(given_json: str, expected: str) -> None:
    value = json.loads(given_json)
    assert canonical_json(value) == expected.encode("utf-8")
    # the same examples without their floats and their key beyond the BMP take the fast path, same bytes
    if isinstance(value, dict):
        plain = {k: v for k, v in value.items() if k != "numbers" and max(k, default="") <= "\uffff"}
        assert _jcs_ready(plain) is plain
        assert canonical_json(plain) == rfc8785.dumps(plain)
        numbers = value.get("numbers")
        if numbers:  # and RFC 8785's own numbers: those in fixed notation take the fast path
            assert _jcs_ready([4.5, 0.002, 333333333.3333333]) == [4.5, 0.002, 333333333.3333333]
            assert _jcs_ready(numbers) is _UNSAFE  # 1e30 and 1e-27: exponent forms, rfc8785's to write


# A number whose text differs between orjson and RFC 8785 (``_exponent``): an exponent form ``e+…`` or ``e-6``
# after digits (and a point), a minus or not, at the text's start or after ``:``, ``,`` or ``[``.
DIFFERING_EXPONENT = re.compile(rb"(?:^|[:,\[])-?[0-9]+(?:\.[0-9]+)?e(?:\+|-6)")

NUMBERISH = st.lists(st.sampled_from([b"e+", b"e-", b"e-6", b"e-7", b"e", b"-", b"0", b"6", b"7", b".", b":", b",",
                                      b"[", b'"', b"a", b"f", b"404", b"1.5", b" ", b"\xc3\xa0"]),
                     max_size=40).map(b"".join)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(NUMBERISH, st.one_of(JSON, PLAIN).map(lambda v: text_of(v, False, True))))
@example(b'{"id":"44f28afb-055e-47c0-404e-ace4","n":-1.5e-6}')
@example(b'{"id":"44f28afb-055e-67c0-404e-ace4","n":-1.5e-7}')
@example(b"1e+5")
@example(b"-" + b"1" * 70 + b"e-6")
@example(b'"x' + b"1" * 70 + b'e-6"')
def test_the_exponent_check_misses_no_differing_exponent(written: bytes) -> None:
    """The check says True wherever a number in a form orjson and RFC 8785 write differently may be (so none
    reaches the orjson path), and misses one only where a run of digits fills its window (it then says True)."""
    if DIFFERING_EXPONENT.search(written):
        assert _exponent(written)
    if _exponent(written) and not re.search(rb"(?:^|[:,\[])-?[0-9.]*e-6", written):  # (a bare minus, a point)
        assert b"e+" in written or any(len(run) >= 63 for run in re.findall(rb"[0-9.]+", written))


MAGNITUDES = st.builds(lambda mantissa, exponent, sign: float(f"{sign * mantissa!r}e{exponent}"),
                       st.floats(1, 10, exclude_max=True), st.integers(-330, 308), st.sampled_from([1, -1]))
ALL_FLOATS = st.one_of(st.floats(allow_nan=False, allow_infinity=False), MAGNITUDES, st.sampled_from([
    1e-7, 9.999999999999999e-07, 1e-6, 1.5e-6, 9.99e-6, 9.999999999999999e-06, 1e-5, 1.0000000000000001e-05, 1e-4,
    1e15 + 0.5, 1e16, 1.5e16, 9.999999999999998e20, 1e21, 1e22, 5e-324, 2.2250738585072014e-308,
    1.7976931348623157e308])).filter(math.isfinite)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALL_FLOATS, min_size=1, max_size=6))
def test_floats_of_every_magnitude_are_written_as_rfc8785_writes_them(floats: list[float]) -> None:
    """orjson's exponent forms are RFC 8785's but in [1e-6, 1e-5) and [1e16, 1e21): the floats there (and
    integral floats, -0.0) are what the orjson path leaves or fixes; every other float is the same text."""
    for x in floats:
        if orjson.dumps(x) != rfc8785.dumps(x) and not x.is_integer():
            assert _exponent(orjson.dumps([x]))
    value = {"id": "44f28afb-055e-47c0-404e-ace4", "x": floats}
    assert _orjson_jcs(value) in (None, rfc8785.dumps(value))
    assert canonical_json(value, exact=True) == rfc8785.dumps(value)


ATTRIBUTE = st.sampled_from([*HASHED_ATTRIBUTES, "hash", "traceparent", "signature"])


@settings(max_examples=1000)
@given(st.dictionaries(ATTRIBUTE, SCALARS, max_size=20))
def test_hashed_attributes_are_the_named_ones(event: dict[str, Any]) -> None:
    covered = hashed_attributes(event)
    assert covered == {name: event[name] for name in HASHED_ATTRIBUTES if name in event}
    assert covered is not event  # a copy: the caller's event is left as it was
