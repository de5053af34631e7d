"""Dossiers are received while the round takes them, except those a lower level escalates."""

from __future__ import annotations

from datetime import date

import pytest

from binhchon_kit.contracts.intake import EscalatedFrom
from intake.domain.errors import Refused

from .dossier_builders import CLOSES, OPENS, receive, round_opened

ESCALATED = EscalatedFrom(dossier_id="dossier-huyen-luc-nam-1", round_id="round-huyen-luc-nam-2026",
                          result_event_id="result-1", rating="4 sao", points=78.5)


@pytest.mark.parametrize("today", [OPENS, date(2026, 3, 18), CLOSES], ids=["first-day", "middle", "last-day"])
def test_a_dossier_is_received_inside_the_window(today: date) -> None:
    decided = receive(round_opened(), today=today)
    assert decided.escalated_from is None
    assert decided.round_code == "BG-OCOP-2026-1"


@pytest.mark.parametrize("today", [date(2026, 3, 1), date(2026, 5, 1), date(2025, 12, 1)],
                         ids=["day-before", "day-after", "long-before"])
def test_a_dossier_outside_the_window_is_refused(today: date) -> None:
    with pytest.raises(Refused) as refused:
        receive(round_opened(), today=today)
    assert refused.value.kind == "conflict"
    assert refused.value.detail == {"today": today.isoformat()}
    assert "2026-03-02" in refused.value.message and "2026-04-30" in refused.value.message


@pytest.mark.parametrize("today", [date(2026, 3, 1), date(2026, 5, 4)], ids=["before", "after"])
def test_an_escalated_dossier_is_received_outside_the_window(today: date) -> None:
    decided = receive(round_opened(), today=today, escalated_from=ESCALATED)
    assert decided.escalated_from == ESCALATED
    assert decided.check_due_date > today
