"""Promised dates: a late check or result gets an apology and a later date; overdue checks are visible."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from binhchon_kit.contracts.intake import PromisedDate
from intake.domain import dossiers
from intake.domain.dossiers import Status
from intake.domain.errors import Refused

from .dossier_builders import TODAY, received, round_opened

APOLOGY = "Phiếu xin lỗi và hẹn lại ngày trả kết quả"
CHECK_DUE = date(2026, 3, 11)  # received Friday 6 March, three working days


def test_a_later_check_date_is_recorded_with_the_previous_one() -> None:
    history = received(round_opened())
    slipped = dossiers.reschedule(history.dossier, which=PromisedDate.CHECK, new_date=date(2026, 3, 13),
                                  apology_note=APOLOGY, today=date(2026, 3, 11))
    assert (slipped.previous_date, slipped.new_date) == (CHECK_DUE, date(2026, 3, 13))
    assert history.record(slipped).check_due_date == date(2026, 3, 13)


def test_a_later_result_date_is_recorded_for_an_accepted_dossier() -> None:
    round_ = round_opened()
    history = received(round_)
    history.record(dossiers.accept(history.dossier, round_, product_group="thực phẩm",
                                                        sample_code="BG-2026-020"))
    slipped = dossiers.reschedule(history.dossier, which=PromisedDate.RESULT, new_date=date(2026, 6, 30),
                                  apology_note=APOLOGY, today=TODAY)
    assert slipped.previous_date == date(2026, 6, 15)
    state = history.record(slipped)
    assert (state.result_due_date, state.check_due_date) == (date(2026, 6, 30), CHECK_DUE)


@pytest.mark.parametrize("new_date", [CHECK_DUE, date(2026, 3, 10)], ids=["same-date", "earlier"])
def test_a_new_date_not_later_than_the_previous_one_is_invalid(new_date: date) -> None:
    history = received(round_opened())
    with pytest.raises(Refused) as refused:
        dossiers.reschedule(history.dossier, which=PromisedDate.CHECK, new_date=new_date,
                            apology_note=APOLOGY, today=TODAY)
    assert refused.value.kind == "invalid"
    assert refused.value.detail == {"field": "new_date", "previous_date": "2026-03-11"}


def test_a_new_date_not_after_today_is_invalid() -> None:
    history = received(round_opened())
    with pytest.raises(Refused) as refused:
        dossiers.reschedule(history.dossier, which=PromisedDate.CHECK, new_date=date(2026, 3, 12),
                            apology_note=APOLOGY, today=date(2026, 3, 12))
    assert refused.value.kind == "invalid"


@pytest.mark.parametrize(("as_of", "overdue"),
                         [(date(2026, 3, 10), False), (CHECK_DUE, False), (date(2026, 3, 12), True)],
                         ids=["before", "on-the-due-date", "day-after"])
def test_a_dossier_awaiting_its_check_is_overdue_after_the_due_date(as_of: date, overdue: bool) -> None:
    dossier = received(round_opened()).dossier
    assert dossiers.is_overdue(dossier, as_of) is overdue
    assert dossiers.is_overdue(replace(dossier, status=Status.SUPPLEMENTED), as_of) is overdue


@pytest.mark.parametrize("status",
                         [Status.SUPPLEMENT_REQUESTED, Status.ACCEPTED, Status.REJECTED, Status.WITHDRAWN])
def test_a_dossier_not_awaiting_its_check_is_never_overdue(status: Status) -> None:
    dossier = replace(received(round_opened()).dossier, status=status)
    assert not dossiers.is_overdue(dossier, date(2027, 1, 1))
