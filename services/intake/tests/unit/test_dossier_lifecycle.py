"""A dossier's way through the one-stop shop: receipt, supplement request, supplement, acceptance."""

from __future__ import annotations

from datetime import date

from binhchon_kit.contracts.intake import MissingItem
from binhchon_kit.eventstore import verify_chain
from binhchon_kit.folding import replay
from intake.domain import dossiers
from intake.domain.dossiers import Status

from .dossier_builders import APPLICANT, TODAY, document, receive, received, round_opened

MISSING = [MissingItem(document_kind="quality_declaration", description="Bản tự công bố chất lượng sản phẩm")]


def test_receive_request_supplement_supplement_accept() -> None:
    round_ = round_opened()
    history = received(round_)
    assert history.dossier.status is Status.RECEIVED
    assert history.dossier.producer_id == APPLICANT.id
    assert history.dossier.check_due_date == date(2026, 3, 11)  # Friday + 3 working days

    request = dossiers.request_supplement(history.dossier, round_, items=MISSING,
                                          reason="Hồ sơ còn thiếu giấy tờ", due_date=None,
                                          today=date(2026, 3, 9))
    assert request.request_number == 1
    assert request.due_date == date(2026, 3, 16)  # Monday + 5 working days (supplement_working_days)
    state = history.record(request)
    assert (state.status, state.supplement_requests) == (Status.SUPPLEMENT_REQUESTED, 1)

    supplied = dossiers.supplement(state, round_, documents=[document("quality_declaration", "c")],
                                   note="Bổ sung bản tự công bố", today=date(2026, 3, 12))
    assert supplied.check_due_date == date(2026, 3, 17)  # Thursday + 3 working days
    state = history.record(supplied, APPLICANT)
    assert (state.status, state.check_due_date) == (Status.SUPPLEMENTED, date(2026, 3, 17))

    accepted = dossiers.accept(state, round_, product_group="thực phẩm", sample_code="BG-2026-001")
    assert (accepted.product_name, accepted.producer_name) == ("Mật ong rừng Lục Nam",
                                                               "Hợp tác xã Nông nghiệp Đông Hưng")
    assert accepted.result_due_date == round_.schedule.council_date  # no result date: the council date
    state = history.record(accepted)
    assert (state.status, state.version, state.result_due_date) == (Status.ACCEPTED, 4, date(2026, 6, 15))

    assert replay(dossiers.evolve, history.events) == state
    assert verify_chain(history.events) == []


def test_the_check_is_due_three_working_days_after_receipt() -> None:
    assert receive(round_opened(), today=date(2026, 3, 6)).check_due_date == date(2026, 3, 11)
    # Received Tuesday 28 April 2026: 30 April and 1 May are holidays.
    assert receive(round_opened(), today=date(2026, 4, 28)).check_due_date == date(2026, 5, 5)


def test_the_rounds_check_working_days_are_honoured() -> None:
    round_ = round_opened(schedule={"check_working_days": 7})
    assert receive(round_, today=TODAY).check_due_date == date(2026, 3, 17)  # Friday + 7 working days


def test_an_explicit_result_date_wins_over_the_council_date() -> None:
    round_ = round_opened(schedule={"result_due_date": date(2026, 6, 30)})
    history = received(round_)
    accepted = dossiers.accept(history.dossier, round_, product_group="thực phẩm", sample_code="BG-2026-002")
    assert accepted.result_due_date == date(2026, 6, 30)


def test_fold_dossier_gives_the_read_model() -> None:
    round_ = round_opened()
    history = received(round_)
    fresh = dossiers.fold_dossier(history.events)
    assert fresh["status"] == "received"
    assert fresh["receipt_number"] == "000.00.24.H06-260306-0001"
    assert fresh["check_due_date"] == "2026-03-11"
    assert "classification" not in fresh

    history.record(dossiers.accept(history.dossier, round_, product_group="thực phẩm",
                                                        sample_code="BG-2026-003"))
    doc = dossiers.fold_dossier(history.events)
    assert doc["status"] == "accepted"
    assert doc["classification"] == {"product_group": "thực phẩm", "sample_code": "BG-2026-003"}
    assert doc["result_due_date"] == "2026-06-15"
    assert (doc["dossier_id"], doc["round_id"], doc["round_code"]) == (history.stream, round_.round_id,
                                                                      "BG-OCOP-2026-1")
    assert (doc["applicant_id"], doc["province_code"], doc["district_code"]) == (APPLICANT.id, "24", "218")
    assert doc["product"]["name"] == "Mật ong rừng Lục Nam"
    assert doc["updated_at"] == history.events[-1].time
