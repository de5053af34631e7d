"""The pure rules: who a product belongs to, which rating wins, when validity ends, which ceremony is which."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from binhchon_kit.contracts.certification import CertificateExpired, CertificateExpiring
from certification.domain import ceremonies
from certification.domain import certificates as certs
from certification.domain.errors import Refused

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_a_product_is_its_producers_registration_number_and_its_normalised_name() -> None:
    key = certs.product_key("OCOP", "2400123456", "Rượu nếp cẩm")
    assert certs.product_key("OCOP", " 2400123456 ", unicodedata.normalize("NFD", "  RƯỢU\tnếp   CẨM ")) == key
    assert certs.product_key("OCOP", "3400987654", "Rượu nếp cẩm") != key  # same name, another producer
    assert certs.product_key("CNNTTB", "2400123456", "Rượu nếp cẩm") != key  # another programme's recognition
    assert certs.product_key("OCOP", None, "Rượu nếp cẩm") is None  # no identity: no supersession by name


def test_the_later_decision_wins_whatever_the_arrival_order() -> None:
    early = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    late_in_vn = datetime(2026, 11, 22, 7, 30, 0, 5, tzinfo=VIETNAM)  # 00:30 UTC: before `early`
    assert certs.rank(date(2026, 11, 21), early, "b") > certs.rank(date(2025, 3, 2), early, "a")
    assert certs.rank(date(2025, 3, 2), early, "a") > certs.rank(date(2025, 3, 2), late_in_vn, "z")  # approved later
    # microseconds or none, the strings sort as the moments do
    assert certs.rank(date(2025, 3, 2), datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC), "a") > \
        certs.rank(date(2025, 3, 2), datetime(2026, 1, 1, 0, 0, 0, 999999, tzinfo=UTC), "a")
    assert certs.rank(date(2025, 3, 2), early, "a") == certs.rank(date(2025, 3, 2), early, "a")


def test_validity_counts_from_the_decision_to_the_months_end() -> None:
    assert certs.valid_until(date(2023, 12, 8), 36) == date(2026, 12, 8)
    assert certs.valid_until(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert certs.valid_until(date(2023, 12, 8), None) is None


def test_one_ceremony_per_round_date_and_place_never_in_the_past() -> None:
    day = date(2026, 12, 28)
    assert ceremonies.ceremony_id("round-1", day, "Hội trường  UBND tỉnh") == \
        ceremonies.ceremony_id("round-1", day, "hội trường UBND TỈNH ")
    assert ceremonies.ceremony_id("round-1", day, "Hội trường") != ceremonies.ceremony_id("round-2", day, "Hội trường")
    ceremonies.check_date(day, time(8, 0), datetime(2026, 12, 28, 7, 59, tzinfo=VIETNAM))
    with pytest.raises(Refused) as refused:
        ceremonies.check_date(date(2026, 11, 22), time(8, 0), datetime(2026, 11, 23, 0, 1, tzinfo=VIETNAM))
    assert refused.value.status == 422 and refused.value.detail["on"] == "2026-11-22"
    assert "22/11/2026" in refused.value.message
    with pytest.raises(Refused) as refused:  # today, an hour gone by
        ceremonies.check_date(day, time(8, 0), datetime(2026, 12, 28, 8, 0, tzinfo=VIETNAM))
    assert refused.value.status == 422 and refused.value.detail["fields"] == ["on", "at"]


def test_lead_times_that_cannot_be_kept_are_warned_of_not_refused() -> None:
    day = date(2026, 12, 28)
    assert ceremonies.lead_time_warnings(day, date(2026, 12, 25), 3, 1) == []
    assert [w["code"] for w in ceremonies.lead_time_warnings(day, date(2026, 12, 26), 3, 1)] == ["invitation_late"]
    assert [w["code"] for w in ceremonies.lead_time_warnings(day, day, 3, 1)] == ["invitation_late",
                                                                                  "confirmation_late"]


def test_a_certificate_past_its_end_is_told_only_that_it_expired() -> None:
    issued = {"number": "OCOP-UBNDTBG-2022-00001", "valid_until": "2025-01-10", "product_name": "Mật ong",
              "holder": {"name": "HTX", "address": "Xã A", "registration_number": None}}
    state = certs.Certificate(stream="certificate-1", version=1, issued=issued)
    assert [type(n) for n in certs.notices_due(state, date(2026, 11, 23))] == [CertificateExpired]
    assert [type(n) for n in certs.notices_due(state, date(2024, 12, 20))] == [CertificateExpiring]


def test_a_second_posting_that_says_otherwise_is_a_conflict() -> None:
    existing = {"ceremony_id": "ceremony-1", "title": "Lễ trao giấy chứng nhận", "at": "08:00:00"}
    ceremonies.same_request(existing, " lễ trao giấy  chứng nhận", time(8, 0))
    with pytest.raises(Refused) as refused:
        ceremonies.same_request(existing, "Lễ khác", time(14, 0))
    assert refused.value.status == 409 and refused.value.detail["fields"] == ["title", "at"]
