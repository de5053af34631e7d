"""Every command is refused in every status the dossier's state diagram does not allow it from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from binhchon_kit.contracts.intake import MissingItem, PromisedDate, RoundOpened
from intake.domain import dossiers
from intake.domain.dossiers import Dossier, Status
from intake.domain.errors import Refused

from .dossier_builders import APPLICANT, TODAY, document, received, round_opened

ROUND = round_opened(max_supplement_requests=2)  # so that a supplemented dossier may be asked again
LATER = date(2026, 7, 1)

Command = Callable[[Dossier, RoundOpened], Any]
COMMANDS: dict[str, Command] = {
    "request_supplement": lambda s, r: dossiers.request_supplement(
        s, r, items=[MissingItem(description="Giấy chứng nhận an toàn thực phẩm")], reason="Thiếu giấy tờ",
        due_date=None, today=TODAY),
    "supplement": lambda s, r: dossiers.supplement(s, r, documents=[document("food_safety", "c")], note="",
                                                  today=TODAY),
    "accept": lambda s, r: dossiers.accept(s, r, product_group="thực phẩm", sample_code="BG-2026-010"),
    "reject": lambda s, r: dossiers.reject(s, reason="Sản phẩm không thuộc nhóm của đợt"),
    "withdraw": lambda s, r: dossiers.withdraw(s, reason="Chủ thể xin rút hồ sơ"),
    "reschedule_check": lambda s, r: dossiers.reschedule(
        s, which=PromisedDate.CHECK, new_date=LATER, apology_note="Xin lỗi vì chậm kiểm tra", today=TODAY),
    "reschedule_result": lambda s, r: dossiers.reschedule(
        s, which=PromisedDate.RESULT, new_date=LATER, apology_note="Xin lỗi vì chậm trả kết quả",
        today=TODAY),
}

# The state diagram of intake.domain.dossiers, written out: where each command may start from.
AWAITING_CHECK = {Status.RECEIVED, Status.SUPPLEMENTED}
ALLOWED: dict[str, set[Status]] = {
    "request_supplement": AWAITING_CHECK,
    "supplement": {Status.SUPPLEMENT_REQUESTED},
    "accept": AWAITING_CHECK,
    "reject": AWAITING_CHECK,
    "withdraw": {Status.RECEIVED, Status.SUPPLEMENT_REQUESTED, Status.SUPPLEMENTED, Status.ACCEPTED},
    "reschedule_check": AWAITING_CHECK,
    "reschedule_result": {Status.ACCEPTED},
}
PATH_TO: dict[Status, list[str]] = {
    Status.RECEIVED: [],
    Status.SUPPLEMENT_REQUESTED: ["request_supplement"],
    Status.SUPPLEMENTED: ["request_supplement", "supplement"],
    Status.ACCEPTED: ["accept"],
    Status.REJECTED: ["reject"],
    Status.WITHDRAWN: ["withdraw"],
}


def dossier_in(status: Status) -> Dossier:
    """A dossier brought to ``status`` by deciding and recording the commands that lead there."""
    history = received(ROUND)
    for command in PATH_TO[status]:
        history.record(COMMANDS[command](history.dossier, ROUND), APPLICANT)
    assert history.dossier.status is status
    return history.dossier


def test_the_table_covers_every_status_and_command() -> None:
    assert set(PATH_TO) == set(Status)
    assert set(ALLOWED) == set(COMMANDS)


CELLS = [(status, command) for status in Status for command in COMMANDS]
ILLEGAL = [cell for cell in CELLS if cell[0] not in ALLOWED[cell[1]]]
LEGAL = [cell for cell in CELLS if cell[0] in ALLOWED[cell[1]]]


@pytest.mark.parametrize(("status", "command"), ILLEGAL, ids=[f"{s.value}-{c}" for s, c in ILLEGAL])
def test_an_illegal_transition_is_refused_with_the_current_status(status: Status, command: str) -> None:
    with pytest.raises(Refused) as refused:
        COMMANDS[command](dossier_in(status), ROUND)
    assert refused.value.kind == "conflict"
    assert refused.value.detail["current_status"] == status.value
    assert status.value in refused.value.message


@pytest.mark.parametrize(("status", "command"), LEGAL, ids=[f"{s.value}-{c}" for s, c in LEGAL])
def test_a_legal_transition_is_decided(status: Status, command: str) -> None:
    assert COMMANDS[command](dossier_in(status), ROUND) is not None
