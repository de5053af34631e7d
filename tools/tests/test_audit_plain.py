"""The cheap path's plain-dict checks (``audit_plain``) accept only what the contract models read unchanged.

Valid ``scoring.opened`` and ``score.submitted`` data, then each field replaced by values a forger (or a careless
producer) could write: whenever a plain check answers True, the model must validate the data and dump it back
type for type; and the untouched data must pass (else the cheap path would save nothing)."""

from __future__ import annotations

import copy
import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from binhchon_kit.contracts.scoring import ScoreSubmitted, ScoringOpened
from binhchon_tools import audit_plain as plain

OPENED: dict[str, Any] = {
    "dossier_id": "dossier-fab9631f", "round_id": "round-e3ebe6b6", "programme": "OCOP", "level": "province",
    "rulebook_id": "ocop-2023", "rulebook_version": 2, "sheet_id": "general", "product_group": "thực phẩm",
    "product_name": "Sản phẩm 1-0", "producer_name": "Hợp tác xã Nông nghiệp Đông Hưng", "sample_code": "TP-01",
    "producer_address": None, "province_code": "24", "producer_registration_number": "2463695798"}
SEALED_COPY = {"enc": "A256GCM", "kid": "psk-" + "0" * 32, "iv": "AAAAAAAAAAAAAAAA", "ct": "abc_-",
               "src": "ev-1#producer.name"}
SHEET: dict[str, Any] = {
    "sheet_id": "830de030", "member_id": "cm-1", "scoring_round": 1, "rulebook_id": "ocop-2023",
    "rulebook_version": 2, "score_sheet": "general",
    "sealed": {"alg": "A256GCM", "kid": "bench", "key_digest": "0e" * 32, "nonce": "lDL2WSesFDKddPO4",
               "ciphertext": "EAYlqx9x42cV5eVEtUjzhwC_JincXc2P4oF8GB7rQp8"},
    "scores": None, "total": None, "comment": ""}

# what a field could hold instead: near misses of every constraint the models have
TRICKY = st.one_of(
    st.sampled_from([
        "", " ", "x ", " x", "x\n", "\u00a0x", "x\x1c", "a" * 40, "a" * 41, "a" * 500, "a" * 501, "ab", "abc",
        "ocop 2023", "ocop/2023", "24.1", "2463-69/57", "é", unicodedata.normalize("NFD", "Đông Hưng"), "Đông Hưng",
        "OCOP", "ocop", "CNNTTB", "province", "Province", "national", "A256GCM", "a256gcm", "0e" * 32, "0E" * 32,
        "0e" * 31, "lDL2WSesFDKddPO4", "lDL2WSesFDKddPO=", "lDL2WSesFDKddPO", "abc+/", "abc_-", "2", "1.0",
        "\u212b", "x\u0301"]),
    st.sampled_from([0, 1, 2, -1, 1.0, 2.0, 0.5, True, False, None, [], {}, ["x"], 2**70, SEALED_COPY,
                     {**SEALED_COPY, "kid": "bad"}, {**SEALED_COPY, "extra": 1}]),
    st.text(max_size=12))


def strictly_equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(strictly_equal, a, b))
    return bool(a == b) and (type(a) is not float or str(a) == str(b))


def dumped_the_same(model: Any, data: dict[str, Any]) -> bool:
    try:
        read = model.model_validate(data)
    except ValidationError:
        return False
    if isinstance(data.get("sealed"), dict):  # a default the dump writes back
        data = {**data, "sealed": {"alg": "A256GCM", **data["sealed"]}}
    return strictly_equal(read.model_dump(mode="json", include=set(data)), data)


def altered(base: dict[str, Any], draw: st.DrawFn, paths: list[tuple[str, ...]]) -> dict[str, Any]:
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        *parents, last = draw(st.sampled_from(paths))
        target = data
        for name in parents:
            target = target.get(name) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue  # its parent was replaced by an earlier change
        action = draw(st.sampled_from(["set", "set", "set", "drop", "add"]))
        if action == "drop":
            target.pop(last, None)
        elif action == "add":
            target[draw(st.sampled_from(["extra", "scores ", "Level"]))] = draw(TRICKY)
        else:
            target[last] = draw(TRICKY)
    return data


def test_the_untouched_data_passes():
    assert plain.opened(OPENED) and dumped_the_same(ScoringOpened, OPENED)
    assert plain.sealed_sheet(SHEET) and dumped_the_same(ScoreSubmitted, SHEET)
    assert plain.opened({**OPENED, "producer_name": SEALED_COPY, "producer_registration_number": SEALED_COPY})
    trimmed = {k: v for k, v in OPENED.items() if k not in ("producer_address", "province_code")}
    assert plain.opened(trimmed) and dumped_the_same(ScoringOpened, trimmed)


@settings(max_examples=3000)
@given(st.data())
def test_an_opening_the_plain_check_accepts_reads_unchanged(data):
    opened = altered(OPENED, data.draw, [(k,) for k in OPENED])
    if plain.opened(opened):
        assert dumped_the_same(ScoringOpened, opened), opened


@settings(max_examples=3000)
@given(st.data())
def test_a_sheet_the_plain_check_accepts_reads_unchanged(data):
    paths = [(k,) for k in SHEET] + [("sealed", k) for k in SHEET["sealed"]]
    sheet = altered(SHEET, data.draw, paths)
    if plain.sealed_sheet(sheet):
        assert dumped_the_same(ScoreSubmitted, sheet), sheet


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=3)  # JSON text holds no lone surrogate
JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-3, 3, allow_nan=False)
                    | st.sampled_from([0.0, -0.0, 1.0, 1]) | TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                    max_leaves=8)


@settings(max_examples=2000)
@given(JSON, JSON)
def test_same_is_equality_type_for_type(a, b):
    assert plain.same(a, b) == strictly_equal(a, b)
    assert plain.same(a, copy.deepcopy(a))


@pytest.mark.parametrize("value", [1, 1.0, True, "1"])
def test_same_tells_json_types_apart(value):
    assert plain.same({"x": [value]}, {"x": [value]})
    assert not any(plain.same({"x": [value]}, {"x": [other]}) for other in (1, 1.0, True, "1") if other is not value)


@settings(max_examples=3000)
@given(st.one_of(st.text(alphabet=st.sampled_from("AZaz09-_+/= .\né\x00\U0001f602"), max_size=40),
                 st.text(max_size=20), st.integers(19990, 20010).map(lambda n: "A" * n),
                 st.sampled_from(["", "-", "_", "A\n", "\n", "ÿ"])))
def test_the_ciphertexts_alphabet_check_is_the_models_pattern(value: str) -> None:
    assert plain.b64url(value) == (plain._B64URL(value) is not None)
