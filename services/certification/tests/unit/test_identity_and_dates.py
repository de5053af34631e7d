"""The pure rules: who a product belongs to, which rating wins, when validity ends, which ceremony is which."""

from __future__ import annotations

import unicodedata
from datetime import date, time

import pytest

from certification.domain import ceremonies
from certification.domain import certificates as certs
from certification.domain.errors import Refused


def test_a_product_is_its_producers_registration_number_and_its_normalised_name() -> None:
    key = certs.product_key("OCOP", "2400123456", "Rượu nếp cẩm")
    assert certs.product_key("OCOP", " 2400123456 ", unicodedata.normalize("NFD", "  RƯỢU\tnếp   CẨM ")) == key
    assert certs.product_key("OCOP", "3400987654", "Rượu nếp cẩm") != key  # same name, another producer
    assert certs.product_key("CNNTTB", "2400123456", "Rượu nếp cẩm") != key  # another programme's recognition
    assert certs.product_key("OCOP", None, "Rượu nếp cẩm") is None  # no identity: no supersession by name


def test_the_later_decision_wins_whatever_the_arrival_order() -> None:
    assert certs.supersedes_incumbent(date(2026, 11, 21), date(2025, 3, 2))
    assert not certs.supersedes_incumbent(date(2025, 3, 2), date(2026, 11, 21))
    assert certs.supersedes_incumbent(date(2025, 3, 2), date(2025, 3, 2))
    assert certs.supersedes_incumbent(date(2025, 3, 2), None)  # an incumbent recorded before dates were kept


def test_validity_counts_from_the_decision_to_the_months_end() -> None:
    assert certs.valid_until(date(2023, 12, 8), 36) == date(2026, 12, 8)
    assert certs.valid_until(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert certs.valid_until(date(2023, 12, 8), None) is None


def test_one_ceremony_per_round_date_and_place_never_in_the_past() -> None:
    day = date(2026, 12, 28)
    assert ceremonies.ceremony_id("round-1", day, "Hội trường  UBND tỉnh") == \
        ceremonies.ceremony_id("round-1", day, "hội trường UBND TỈNH ")
    assert ceremonies.ceremony_id("round-1", day, "Hội trường") != ceremonies.ceremony_id("round-2", day, "Hội trường")
    ceremonies.check_date(day, today=day)
    with pytest.raises(Refused) as refused:
        ceremonies.check_date(date(2026, 11, 22), today=date(2026, 11, 23))
    assert refused.value.status == 422 and refused.value.detail["on"] == "2026-11-22"
    assert "22/11/2026" in refused.value.message


def test_a_second_posting_that_says_otherwise_is_a_conflict() -> None:
    existing = {"ceremony_id": "ceremony-1", "title": "Lễ trao giấy chứng nhận", "at": "08:00:00"}
    ceremonies.same_request(existing, " lễ trao giấy  chứng nhận", time(8, 0))
    with pytest.raises(Refused) as refused:
        ceremonies.same_request(existing, "Lễ khác", time(14, 0))
    assert refused.value.status == 409 and refused.value.detail["fields"] == ["title", "at"]
