"""Shared value types: Vietnamese text stored in one normal form, identifiers checked at the door."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from binhchon_kit.contracts.common import Contact, Document, Producer, Product, Text

ADDRESS = {"street": "Thôn Đồng Mới", "commune": "Xã Đông Hưng", "district": "Huyện Lục Nam",
           "district_code": "218", "province": "Tỉnh Bắc Giang", "province_code": "24"}
CONTACT = {"person": "Nguyễn Văn Đức", "phone": "0912 345 678", "email": "htx.donghung@example.vn"}
PRODUCER = {"kind": "cooperative", "name": "Hợp tác xã Nông nghiệp Đông Hưng",
            "registration_number": "2400123456", "address": ADDRESS, "contact": CONTACT}
DOCUMENT = {"kind": "registration_form", "file_name": "phiếu-đăng-ký.pdf", "size_bytes": 120_000,
            "sha256": "a" * 64}

VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
vietnamese_words = st.text(st.sampled_from(VIETNAMESE + VIETNAMESE.upper()), min_size=1, max_size=12)
vietnamese_text = st.lists(vietnamese_words, min_size=1, max_size=8).map(" ".join)
padding = st.text(st.sampled_from(" \t\n"), max_size=3)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def producer(**over: Any) -> dict[str, Any]:
    return {**PRODUCER, **over}


def error_locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str | int, ...]]:
    return [error["loc"] for error in exc.value.errors()]


def test_decomposed_vietnamese_is_stored_composed_and_trimmed() -> None:
    name = nfd("  Hợp tác xã Nông nghiệp Đông Hưng \n")
    assert not unicodedata.is_normalized("NFC", name)

    commune = nfd(" Xã Đông Hưng ")
    stored = Producer.model_validate(producer(name=name, address={**ADDRESS, "commune": commune}))

    assert stored.name == "Hợp tác xã Nông nghiệp Đông Hưng"
    assert unicodedata.is_normalized("NFC", stored.name)
    assert stored.address.commune == "Xã Đông Hưng"
    assert stored == Producer.model_validate(PRODUCER)


def test_a_long_description_is_composed_too() -> None:
    product = Product(name=nfd("Mật ong rừng"), product_group=nfd("thực phẩm"),
                      description=nfd(" Mật ong nguyên chất, khai thác tự nhiên "), sample_count=5)
    assert product.description == "Mật ong nguyên chất, khai thác tự nhiên"
    texts = (product.name, product.product_group, product.description)
    assert all(unicodedata.is_normalized("NFC", text) for text in texts)


@given(text=vietnamese_text, before=padding, after=padding)
def test_any_vietnamese_text_in_either_form_is_stored_as_the_same_composed_string(
    text: str, before: str, after: str
) -> None:
    composed = unicodedata.normalize("NFC", text)
    stored = Contact.model_validate({**CONTACT, "person": before + nfd(text) + after}).person
    assert stored == composed
    assert unicodedata.is_normalized("NFC", stored)


def test_a_name_at_the_length_limit_is_accepted_in_either_normal_form() -> None:
    # 500 characters composed; 1,500 decomposed (each "ệ" is e + circumflex + dot below in NFD).
    composed = "ệ" * 500
    assert TypeAdapter(Text).validate_python(composed) == composed
    assert TypeAdapter(Text).validate_python(nfd(composed)) == composed


@pytest.mark.parametrize("blank", ["", "   ", nfd(" \t ")])
def test_blank_text_is_refused(blank: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Producer.model_validate(producer(name=blank))
    assert error_locs(exc) == [("name",)]


@pytest.mark.parametrize("phone", ["0912 345 678", "+84 912 345 678", "024.3823.4567", "0912-345-678"])
def test_vietnamese_phone_numbers_are_accepted(phone: str) -> None:
    assert Producer.model_validate(producer(contact={**CONTACT, "phone": phone})).contact.phone == phone


@pytest.mark.parametrize("phone", ["0912", "gọi 0912 345 678", "0912 345 678 ext 2", "++84 912 345 678",
                                   "0" * 21])
def test_an_invalid_phone_is_refused_and_named(phone: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Producer.model_validate(producer(contact={**CONTACT, "phone": phone}))
    assert error_locs(exc) == [("contact", "phone")]


@pytest.mark.parametrize("sha256", ["A" * 64, "a" * 63, "a" * 65, "g" * 64, ""])
def test_an_invalid_sha256_is_refused_and_named(sha256: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Document.model_validate({**DOCUMENT, "sha256": sha256})
    assert error_locs(exc) == [("sha256",)]


def test_a_registration_number_is_trimmed() -> None:
    stored = Producer.model_validate(producer(registration_number=" 2400123456 "))
    assert stored.registration_number == "2400123456"


@pytest.mark.parametrize("number", ["24", "2400 123 456", "2400123456#", "x" * 41, ""])
def test_an_invalid_registration_number_is_refused_and_named(number: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Producer.model_validate(producer(registration_number=number))
    assert error_locs(exc) == [("registration_number",)]


@pytest.mark.parametrize("kind", ["company", "Cooperative", "", "hộ kinh doanh"])
def test_an_unknown_producer_kind_is_refused_and_named(kind: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Producer.model_validate(producer(kind=kind))
    assert error_locs(exc) == [("kind",)]
