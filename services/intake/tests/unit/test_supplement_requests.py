"""The supplement request: written once listing every missing item, unless the round allows more."""

from __future__ import annotations

from datetime import date

import pytest

from binhchon_kit.contracts.intake import MissingItem, RoundOpened
from intake.domain import dossiers
from intake.domain.errors import Refused

from .dossier_builders import APPLICANT, TODAY, DossierHistory, document, received, round_opened

ITEMS = [MissingItem(document_kind="quality_declaration", description="Bản tự công bố chất lượng sản phẩm"),
         MissingItem(description="Ảnh chụp nhãn sản phẩm")]


def ask(
    history: DossierHistory, round_: RoundOpened, due_date: date | None = None, today: date = TODAY
) -> None:
    request = dossiers.request_supplement(history.dossier, round_, items=ITEMS, reason="Hồ sơ chưa đầy đủ",
                                          due_date=due_date, today=today)
    history.record(request)


def answer(history: DossierHistory, round_: RoundOpened) -> None:
    supplied = dossiers.supplement(history.dossier, round_, documents=[document("quality_declaration", "c")],
                                   note="Đã bổ sung", today=TODAY)
    history.record(supplied, APPLICANT)


def test_a_second_request_is_refused_when_the_round_allows_one() -> None:
    round_ = round_opened()
    assert round_.max_supplement_requests == 1
    history = received(round_)
    ask(history, round_)
    answer(history, round_)

    with pytest.raises(Refused) as refused:
        ask(history, round_)
    assert refused.value.kind == "conflict"
    assert refused.value.detail == {"current_status": "supplemented"}
    assert "once" in refused.value.message


def test_a_second_request_is_allowed_when_the_round_allows_two_and_a_third_is_not() -> None:
    round_ = round_opened(max_supplement_requests=2)
    history = received(round_)
    ask(history, round_)
    answer(history, round_)
    ask(history, round_)
    assert history.events[-1].data["request_number"] == 2
    assert history.dossier.supplement_requests == 2
    answer(history, round_)

    with pytest.raises(Refused):
        ask(history, round_)


def test_the_default_due_date_counts_the_rounds_supplement_working_days() -> None:
    round_ = round_opened(schedule={"supplement_working_days": 3})
    history = received(round_)
    ask(history, round_, today=date(2026, 4, 28))  # Tuesday; 30 April and 1 May are holidays
    assert history.events[-1].data["due_date"] == "2026-05-05"


def test_an_explicit_due_date_is_kept() -> None:
    round_ = round_opened()
    history = received(round_)
    ask(history, round_, due_date=date(2026, 3, 20))
    assert history.events[-1].data["due_date"] == "2026-03-20"


@pytest.mark.parametrize("due_date", [TODAY, date(2026, 3, 1)], ids=["today", "past"])
def test_a_due_date_not_after_today_is_invalid(due_date: date) -> None:
    round_ = round_opened()
    history = received(round_)
    with pytest.raises(Refused) as refused:
        ask(history, round_, due_date=due_date)
    assert (refused.value.kind, refused.value.detail) == ("invalid", {"field": "due_date"})
