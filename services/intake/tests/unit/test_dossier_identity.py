"""One producer's one product in one round is one dossier, however the product name is typed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from intake.domain.dossiers import dossier_id_for, product_key
from intake.domain.rounds import round_id_for

ROUND = round_id_for("BG-OCOP-2026-1")
REGNO = "2400123456"

LETTERS = "abcdđeêghiklmnoôơpqrstuưvxyăâàảãáạằắặầấậèẻẽéẹềếệìỉĩíịòỏõóọồốộờớợùủũúụừứựỳỷỹýỵ"
words = st.lists(st.text(st.sampled_from(LETTERS), min_size=1, max_size=10), min_size=1, max_size=6)
gaps = st.text(st.sampled_from(" \t"), min_size=1, max_size=3)


def test_case_and_spacing_do_not_make_another_dossier() -> None:
    same = {dossier_id_for(ROUND, REGNO, name)
            for name in ["Mật ong rừng Lục Nam", "MẬT ONG RỪNG LỤC NAM", "  mật  ong\trừng lục nam "]}
    assert len(same) == 1
    assert dossier_id_for(ROUND, REGNO, "Mật ong rừng Lục Nam").startswith("dossier-")


def test_the_registration_number_is_compared_without_case() -> None:
    assert dossier_id_for(ROUND, "0100abc/gcn", "Chè Shan tuyết") == dossier_id_for(ROUND, "0100ABC/GCN",
                                                                                   "Chè Shan tuyết")


def test_another_producer_product_or_round_is_another_dossier() -> None:
    mine = dossier_id_for(ROUND, REGNO, "Mật ong rừng Lục Nam")
    assert dossier_id_for(ROUND, "2400999999", "Mật ong rừng Lục Nam") != mine
    assert dossier_id_for(ROUND, REGNO, "Mật ong hoa vải Lục Ngạn") != mine
    assert dossier_id_for(round_id_for("BG-OCOP-2026-2"), REGNO, "Mật ong rừng Lục Nam") != mine


@given(name=words, uppercase=st.lists(st.booleans(), min_size=6, max_size=6), gap=gaps, lead=gaps, trail=gaps)
def test_any_respelling_in_case_and_spacing_gives_the_same_dossier(
    name: list[str], uppercase: list[bool], gap: str, lead: str, trail: str
) -> None:
    cased = (word.upper() if up else word for word, up in zip(name, uppercase, strict=False))
    respelled = lead + gap.join(cased) + trail
    assert product_key(respelled) == " ".join(name)
    assert dossier_id_for(ROUND, REGNO, respelled) == dossier_id_for(ROUND, REGNO, " ".join(name))


@given(first=st.text(min_size=1, max_size=20), second=st.text(min_size=1, max_size=20))
def test_different_registration_numbers_are_different_dossiers(first: str, second: str) -> None:
    if first.upper() != second.upper():
        assert dossier_id_for(ROUND, first, "Gạo ST25") != dossier_id_for(ROUND, second, "Gạo ST25")


def test_invisible_characters_and_look_alike_letters_do_not_make_another_dossier() -> None:
    # the outside probe's second dossiers for one product: a zero-width space, a bidi control, a soft hyphen,
    # Cyrillic "а/о/е/р/с" and Greek "Ο" in place of the Latin letters, fullwidth letters
    genuine = dossier_id_for(ROUND, REGNO, "Mật ong rừng Lục Nam")
    for disguise in ["Mật\u200b ong rừng Lục Nam", "Mật ong\u202e rừng Lục Nam", "Mật o\u00adng rừng Lục Nam",
                     "Mật \u043eng rừng Lục N\u0430m", "M\u1eadt \u039fng rừng Lục Nam", "Mật ong rừng Lục Ｎａｍ"]:
        assert dossier_id_for(ROUND, REGNO, disguise) == genuine, disguise


def test_the_skeleton_keeps_vietnamese_diacritics_apart() -> None:
    assert product_key("Mật ong") != product_key("Mắt ong")
    assert product_key("Chè") != product_key("Che")
    assert product_key("Đường") != product_key("Dường")
