"""One dossier's scoring as recorded events: opened → sealed sheets (recusal, amendment) → re-scoring when too far
apart → completed → decided, and the state folded back from the events."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binhchon_kit.canonical import GENESIS_HASH, chain_hash
from binhchon_kit.contracts.common import Level, Programme
from binhchon_kit.contracts.scoring import (
    NotOpenedReason,
    RescoreRequested,
    ResultApproved,
    ResultNotRecognised,
    ScoreAmended,
    ScoreSubmitted,
    ScoringCompleted,
)
from binhchon_kit.folding import replay
from scoring.domain import scoring
from scoring.domain.errors import Refused

from .scoring_builders import (
    ScoringHistory,
    accepted,
    decision,
    full,
    panel,
    recorded,
    rulebook,
    with_total,
)

OCOP23 = rulebook("ocop-2023")
CNN = rulebook("cnnttb-2025")


def five(level: Level = Level.PROVINCE, book_id: str = "ocop-2023", **panel_over: object) -> ScoringHistory:
    """chair, m1…m4 score (quorum 4 of 5), sec keeps the minutes."""
    return ScoringHistory(rulebook(book_id), level, panel(5, **panel_over))  # type: ignore[arg-type]


# ---- opening --------------------------------------------------------------------------------------------

def test_open_scoring_names_rulebook_version_and_sheet() -> None:
    history = five()
    opened = history.dossier.opened
    assert (opened.rulebook_id, opened.rulebook_version, opened.sheet_id) == ("ocop-2023", OCOP23.version, "general")
    assert (opened.programme, opened.level) == (Programme.OCOP, Level.PROVINCE)
    assert history.dossier.status == scoring.OPEN and history.dossier.scoring_round == 1
    assert history.dossier.version == 1 and history.dossier.sheets == ()


def test_open_scoring_finds_the_group_by_code() -> None:
    opened = scoring.open_scoring(accepted(CNN, Level.COMMUNE, "co-khi"), "d-2", CNN)
    assert opened.sheet_id == "general" and opened.product_group == "co-khi"


def test_open_scoring_refuses_an_unknown_group_and_a_missing_level() -> None:
    with pytest.raises(Refused) as refused:
        scoring.open_scoring(accepted(OCOP23, Level.PROVINCE, "ô tô"), "d-1", OCOP23)
    assert refused.value.kind == "invalid" and "thực phẩm" in refused.value.detail["product_groups"]
    with pytest.raises(Refused, match="no district level") as refused:
        scoring.open_scoring(accepted(rulebook("ocop-2025"), Level.DISTRICT), "d-1", rulebook("ocop-2025"))
    assert refused.value.kind == "invalid"


def test_a_dossier_that_cannot_open_is_recorded_with_a_code_and_its_parameters() -> None:
    ocop25 = rulebook("ocop-2025")
    given = accepted(ocop25, Level.DISTRICT)
    with pytest.raises(Refused) as refused:
        scoring.open_scoring(given, "d-1", ocop25)
    event = scoring.not_opened(given, "d-1", ocop25.version, refused.value)
    assert event.reason_code is NotOpenedReason.LEVEL_NOT_IN_RULEBOOK
    assert event.reason_params == {"level": "district", "levels": ["commune", "province", "national"]}
    assert (event.rulebook_id, event.rulebook_version, event.sample_code) == ("ocop-2025", ocop25.version, "MAU-001")
    unknown = scoring.not_opened({**given, "rulebook_id": "ocop-2099"}, "d-1", None,
                                 Refused("no rulebook ocop-2099", kind="not_found"))
    assert unknown.reason_code is NotOpenedReason.RULEBOOK_UNKNOWN
    assert unknown.reason_params == {"rulebook_id": "ocop-2099"}
    # the stream holds no scoring: nothing to score, withdraw or decide
    assert replay(scoring.evolve, [recorded("d-1", 1, GENESIS_HASH, event)]) is None


def test_open_scoring_refuses_a_rulebook_of_another_programme() -> None:
    # BUG: open_scoring never compares the accepted dossier's programme with the rulebook's. "thu-cong-my-nghe"
    # is a product group code of both the OCOP and the CNNTTB rulebooks, so a CNNTTB round configured with an
    # OCOP rulebook id opens scoring as programme CNNTTB, is banded in OCOP stars, and is approved as a CNNTTB
    # result rated "4 sao".
    with pytest.raises(Refused) as refused:
        scoring.open_scoring({**accepted(OCOP23, Level.PROVINCE, "thu-cong-my-nghe"), "programme": "CNNTTB"},
                             "d-1", OCOP23)
    assert refused.value.kind == "invalid"
    with pytest.raises(Refused):
        scoring.open_scoring({**accepted(CNN, Level.PROVINCE, "thu-cong-my-nghe"), "programme": "OCOP"}, "d-1", CNN)


# ---- completing -----------------------------------------------------------------------------------------

def test_evaluate_waits_for_every_eligible_member_then_completes() -> None:
    history = five()
    for member_id, wanted in (("chair", 80), ("m1", 82), ("m2", 84)):
        history.submit(member_id, with_total(history.sheet, wanted))
        assert history.evaluate() is None  # below the quorum of 4
    history.submit("m3", with_total(history.sheet, 86))
    assert history.evaluate() is None  # the quorum, but m4 has not scored
    history.submit("m4", with_total(history.sheet, 79))
    done = history.evaluate()
    assert isinstance(done, ScoringCompleted)
    assert done.totals == {"chair": 80, "m1": 82, "m2": 84, "m3": 86, "m4": 79}
    assert done.average_total == 82.2 and done.spread == 7 and done.scoring_round == 1
    assert (done.band_stars, done.stars, done.rating_label) == (4, 4, "4 sao")
    assert done.recognised_at_level and not done.goes_up_a_level and not done.spread_exceeded
    assert (done.dossier_id, done.round_id, done.rulebook_id, done.rulebook_version) == (
        "dossier-1", "round-1", "ocop-2023", OCOP23.version)
    assert done.rounding == OCOP23.rounding.describe()
    assert {p.code for p in done.part_averages} == {"A", "B", "C"}
    assert {m.code for m in done.mandatory} == {"B4", "C3", "C4", "C5"}
    state = history.record(done)
    assert state.status == scoring.COMPLETED and state.completed == done.model_dump(mode="json")


def test_closing_completes_at_the_quorum() -> None:
    history = five()
    history.submit_all([80, 82, 84, 86])  # chair, m1, m2, m3
    done = history.evaluate(closing=True)
    assert isinstance(done, ScoringCompleted)
    assert set(done.totals) == {"chair", "m1", "m2", "m3"} and done.average_total == 83


def test_closing_below_the_quorum_is_refused() -> None:
    history = five()
    history.submit_all([80, 82, 84])
    with pytest.raises(Refused, match=r"the quorum has not scored: 3 of the 4 sheets needed, the chair's included"):
        history.evaluate(closing=True)


def test_closing_without_the_chair_is_refused() -> None:
    history = five()
    history.submit_all({"m1": 80, "m2": 82, "m3": 84, "m4": 86})
    assert history.evaluate() is None  # every scorer but the chair
    with pytest.raises(Refused, match="quorum"):
        history.evaluate(closing=True)


def test_evaluate_after_completion_does_nothing() -> None:
    history = five()
    history.submit_all([80, 80, 80, 80, 80])
    history.evaluate_and_record()
    assert history.evaluate() is None and history.evaluate(closing=True) is None


def test_a_recused_member_is_not_waited_for() -> None:
    history = five()
    history.recuse("m4")
    history.submit_all([80, 82, 84, 86])
    done = history.evaluate()
    assert isinstance(done, ScoringCompleted) and "m4" not in done.totals


def test_the_last_missing_member_recusing_completes_the_scoring() -> None:
    history = five()
    history.submit_all([80, 82, 84, 86])
    assert history.evaluate() is None
    history.recuse("m4", "phát hiện xung đột lợi ích")
    done = history.evaluate()
    assert isinstance(done, ScoringCompleted) and set(done.totals) == {"chair", "m1", "m2", "m3"}


def test_a_recused_chair_is_not_waited_for_nor_required() -> None:
    history = five()
    history.recuse("chair")
    history.submit_all({"m1": 80, "m2": 82, "m3": 84})  # 3 of 4 eligible: the quorum (ceil 3)
    assert history.evaluate() is None
    assert isinstance(history.evaluate(closing=True), ScoringCompleted)


# ---- re-scoring -----------------------------------------------------------------------------------------

def test_a_spread_above_the_threshold_asks_for_rescoring_and_the_first_sheets_stay_on_record() -> None:
    history = five()
    history.submit_all([80, 82, 84, 86, 90.5])
    rescore = history.evaluate()
    assert isinstance(rescore, RescoreRequested)
    assert (rescore.scoring_round, rescore.threshold) == (1, 10) and rescore.totals is None  # sealed (ADR 0036)
    assert history.marks(rescore) == {"spread": 10.5,
                                      "totals": {"chair": 80, "m1": 82, "m2": 84, "m3": 86, "m4": 90.5}}
    state = history.record(rescore)
    assert state.scoring_round == 2 and state.current_sheets() == {} and len(state.sheets) == 5
    assert history.evaluate() is None and history.evaluate(closing=False) is None

    history.submit_all([84, 84, 85, 86, 88])
    done = history.evaluate()
    assert isinstance(done, ScoringCompleted)
    assert done.scoring_round == 2 and done.totals == {"chair": 84, "m1": 84, "m2": 85, "m3": 86, "m4": 88}
    assert done.average_total == 85.4 and not done.spread_exceeded
    sheets = history.dossier.sheets
    assert [s.scoring_round for s in sheets] == [1] * 5 + [2] * 5
    assert [s.total for s in sheets if s.scoring_round == 1] == [80, 82, 84, 86, 90.5]


def test_a_spread_of_exactly_the_threshold_completes() -> None:
    history = five()
    history.submit_all([80, 82, 84, 86, 90])
    assert isinstance(history.evaluate(), ScoringCompleted)


def test_in_the_second_round_members_may_submit_again_and_closing_counts_only_that_round() -> None:
    history = five()
    history.submit_all([70, 82, 84, 86, 90])
    history.evaluate_and_record()
    history.submit_all([85, 86, 87, 88])  # m4 not yet
    done = history.evaluate(closing=True)
    assert isinstance(done, ScoringCompleted) and set(done.totals) == {"chair", "m1", "m2", "m3"}
    assert done.average_total == 86.5


@pytest.mark.parametrize("max_rounds", [0, 1, 2, 3])
def test_after_the_last_allowed_rescoring_it_completes_with_spread_exceeded(max_rounds: int) -> None:
    history = five(max_rescoring_rounds=max_rounds)
    for round_ in range(1, max_rounds + 1):
        history.submit_all([60, 75, 80, 85, 90])
        outcome = history.evaluate_and_record()
        assert isinstance(outcome, RescoreRequested) and outcome.scoring_round == round_
    history.submit_all([60, 75, 80, 85, 90])
    done = history.evaluate()
    assert isinstance(done, ScoringCompleted)
    assert done.scoring_round == max_rounds + 1 and done.spread == 30 and done.spread_exceeded
    # 60 is 22.5 from the others' 82.5 and 90 is 15 from the others' 75; 75, 80, 85 stay within 10
    assert done.outliers == ["chair", "m4"]
    assert len(history.dossier.sheets) == 5 * (max_rounds + 1)


def test_the_spread_threshold_is_the_panel_s() -> None:
    history = five(spread_threshold=5)
    history.submit_all([80, 82, 84, 86, 85.5])
    assert isinstance(history.evaluate(), RescoreRequested)


# ---- recusal, sealed sheets, amendments -----------------------------------------------------------------

def test_a_recused_member_cannot_submit_nor_amend() -> None:
    history = five()
    state = history.recuse("m2", "vợ của chủ cơ sở")
    assert state.recused == frozenset({"m2"})
    for act in (scoring.submit, scoring.amend):
        with pytest.raises(Refused) as refused:
            act(state, history.panel, OCOP23, "m2", full(history.sheet), "x", history.key)
        assert refused.value.kind == "forbidden"


def test_recusal_is_declared_before_scoring() -> None:
    history = five()
    history.submit("m1", full(history.sheet))
    with pytest.raises(Refused, match="before scoring") as refused:
        scoring.recuse(history.dossier, history.panel, "m1", "late")
    assert refused.value.kind == "conflict"
    history.recuse("m2")
    with pytest.raises(Refused, match="already recused"):
        scoring.recuse(history.dossier, history.panel, "m2", "again")
    with pytest.raises(Refused) as refused:
        scoring.recuse(history.dossier, history.panel, "outsider", "?")
    assert refused.value.kind == "forbidden"


def test_a_member_who_scored_in_an_earlier_round_cannot_recuse() -> None:
    history = five()
    history.submit_all([70, 82, 84, 86, 90])
    history.evaluate_and_record()
    with pytest.raises(Refused, match="already scored"):
        scoring.recuse(history.dossier, history.panel, "m1", "late")


def test_the_secretary_and_strangers_do_not_score() -> None:
    history = five()
    for who in ("sec", "outsider"):
        with pytest.raises(Refused) as refused:
            scoring.submit(history.dossier, history.panel, OCOP23, who, full(history.sheet), "", history.key)
        assert refused.value.kind == "forbidden"


def test_a_second_submit_in_the_same_round_is_refused() -> None:
    history = five()
    history.submit("m1", full(history.sheet))
    with pytest.raises(Refused, match="amend it with a reason") as refused:
        scoring.submit(history.dossier, history.panel, OCOP23, "m1", with_total(history.sheet, 90), "", history.key)
    assert refused.value.kind == "conflict"


def test_a_sheet_with_problems_is_refused_with_the_problems() -> None:
    history = five()
    with pytest.raises(Refused) as refused:
        scoring.submit(history.dossier, history.panel, OCOP23, "m1", full(history.sheet, C3=4), "", history.key)
    assert refused.value.kind == "invalid"
    assert refused.value.detail["problems"] == ["C3: 4 is not allowed (allowed: [0.0, 3.0, 5.0])"]


def test_a_submitted_sheet_is_in_sheet_order_with_its_total_and_rulebook() -> None:
    history = five()
    scores = dict(reversed(list(with_total(history.sheet, 77.5).items())))
    submitted = scoring.submit(history.dossier, history.panel, OCOP23, "m1", scores, "đạt yêu cầu", history.key)
    assert isinstance(submitted, ScoreSubmitted)
    assert (submitted.scores, submitted.total, submitted.comment) == (None, None, "")  # sealed (ADR 0036)
    marks = history.marks(submitted)
    assert [s["code"] for s in marks["scores"]] == [c.code for c in history.sheet.criteria]
    assert marks["total"] == 77.5 and submitted.scoring_round == 1 and marks["comment"] == "đạt yêu cầu"
    assert (submitted.rulebook_id, submitted.rulebook_version, submitted.score_sheet) == (
        "ocop-2023", OCOP23.version, "general")


def test_amend_replaces_the_counted_sheet_and_keeps_the_first_on_record() -> None:
    history = five()
    history.submit_all([80, 82, 84, 86])
    first = history.dossier.current_sheets()["m1"]
    amended = scoring.amend(history.dossier, history.panel, OCOP23, "m1", with_total(history.sheet, 85), "cộng nhầm",
                            history.key)
    assert isinstance(amended, ScoreAmended)
    assert amended.amends_sheet_id == first.sheet_id and amended.sheet_id != first.sheet_id
    assert amended.reason is None and history.marks(amended)["reason"] == "cộng nhầm"
    assert history.marks(amended)["total"] == 85
    history.record(amended)
    state = history.dossier
    assert state.current_sheets()["m1"].total == 85 and state.current_sheets()["m1"].event_type == "score.amended"
    assert [s.total for s in state.sheets if s.member_id == "m1"] == [82, 85]
    history.submit("m4", with_total(history.sheet, 84))
    done = history.evaluate()
    assert isinstance(done, ScoringCompleted) and done.totals["m1"] == 85
    assert done.average_total == 83.8  # (80 + 85 + 84 + 86 + 84) / 5


def test_amend_needs_a_sheet_in_this_round() -> None:
    history = five()
    with pytest.raises(Refused, match="no sheet of this member"):
        scoring.amend(history.dossier, history.panel, OCOP23, "m1", full(history.sheet), "x", history.key)
    history.submit_all([70, 82, 84, 86, 90])
    history.evaluate_and_record()  # re-scoring: round 2
    with pytest.raises(Refused, match="no sheet of this member"):
        scoring.amend(history.dossier, history.panel, OCOP23, "m1", full(history.sheet), "x", history.key)


def test_nothing_is_scored_after_completion() -> None:
    history = five()
    history.submit_all([80, 80, 80, 80, 80])
    history.evaluate_and_record()
    for act in (scoring.submit, scoring.amend):
        with pytest.raises(Refused, match="completed"):
            act(history.dossier, history.panel, OCOP23, "m1", full(history.sheet), "x", history.key)
    with pytest.raises(Refused, match="completed"):
        scoring.recuse(history.dossier, history.panel, "m1", "x")


# ---- decisions ------------------------------------------------------------------------------------------

def completed(level: Level, totals: list[float], book_id: str = "ocop-2023", **fixed: float) -> ScoringHistory:
    history = five(level, book_id)
    history.submit_all(totals, **fixed)
    assert isinstance(history.evaluate_and_record(), ScoringCompleted)
    return history


def test_a_recognised_result_is_approved() -> None:
    history = completed(Level.PROVINCE, [80, 82, 84, 86, 79])
    approved = history.decide(decision("45/QĐ-UBND"))
    assert isinstance(approved, ResultApproved)
    assert (approved.rating.stars, approved.rating.recognised, approved.rating.label) == (4, True, "4 sao")
    assert approved.points == 82.2 and not approved.goes_up_a_level and approved.next_level is None
    assert approved.decision.number == "45/QĐ-UBND"
    assert (approved.dossier_id, approved.round_id, approved.programme, approved.level, approved.rulebook_id) == (
        "dossier-1", "round-1", Programme.OCOP, Level.PROVINCE, "ocop-2023")
    assert approved.product_name == "Mật ong rừng Lục Nam"
    state = history.record(approved)
    assert state.status == scoring.APPROVED and state.decision == approved.model_dump(mode="json")


def test_a_forwarded_result_is_approved_and_goes_up() -> None:
    history = completed(Level.PROVINCE, [92, 93, 94, 95, 96])
    approved = history.decide()
    assert isinstance(approved, ResultApproved)
    assert (approved.rating.stars, approved.rating.recognised) == (5, False)
    assert approved.goes_up_a_level and approved.next_level is Level.NATIONAL


def test_a_district_4_star_goes_up_to_the_province() -> None:
    approved = completed(Level.DISTRICT, [80, 80, 80, 80, 80]).decide()
    assert isinstance(approved, ResultApproved)
    assert not approved.rating.recognised and approved.next_level is Level.PROVINCE


def test_an_unmet_mandatory_criterion_is_named_in_the_reason() -> None:
    history = completed(Level.PROVINCE, [85, 85, 85, 85, 85], C4=4)
    assert history.dossier.completed is not None and history.dossier.completed["stars"] == 3
    refused = history.decide()
    assert isinstance(refused, ResultNotRecognised)
    assert refused.rating_label == "3 sao" and refused.points == 85
    assert "Kiểm soát chất lượng, chứng nhận" in refused.reason and "cấp tỉnh" in refused.reason
    assert refused.reason_code == "mandatory_unmet" and refused.reason_params["level"] == "province"
    assert refused.next_step.strip()
    state = history.record(refused)
    assert state.status == scoring.NOT_RECOGNISED


def test_a_low_score_is_not_recognised_without_a_mandatory_reason() -> None:
    refused = completed(Level.PROVINCE, [40, 40, 40, 40, 40]).decide()
    assert isinstance(refused, ResultNotRecognised)
    assert refused.reason == "2 sao (40,00 điểm) chưa đạt mức được công nhận ở cấp tỉnh"
    assert refused.reason_code == "below_level"
    assert refused.reason_params == {"points": 40.0, "rating_label": "2 sao", "level": "province"}


def test_the_reason_names_only_mandatory_criteria_at_or_below_the_band() -> None:
    # band 3 at the province: C4 (for 4 stars) and C5 (for 5 stars) did not cost the product anything
    refused = completed(Level.PROVINCE, [60, 60, 60, 60, 60], C4=0, C5=0).decide()
    assert isinstance(refused, ResultNotRecognised)
    assert refused.reason == "3 sao (60,00 điểm) chưa đạt mức được công nhận ở cấp tỉnh"
    # band 4 lowered to 2 by C3 (for 3 stars): C3 is named, C5 (for 5 stars) is not
    refused = completed(Level.PROVINCE, [80, 80, 80, 80, 80], C3=0, C5=0).decide()
    assert isinstance(refused, ResultNotRecognised) and refused.rating_label == "2 sao"
    assert refused.reason.endswith("; chưa đáp ứng tiêu chí bắt buộc: Hồ sơ công bố tiêu chuẩn chất lượng")
    assert refused.reason_params["unmet_mandatory"] == ["Hồ sơ công bố tiêu chuẩn chất lượng"]


def test_cnnttb_pass_and_fail() -> None:
    passed = completed(Level.PROVINCE, [70.5, 69.5, 70, 70, 70], "cnnttb-2025").decide()
    assert isinstance(passed, ResultApproved)
    assert (passed.rating.stars, passed.rating.recognised, passed.rating.label) == (None, True, "Đạt")
    assert passed.goes_up_a_level and passed.next_level is Level.REGION and passed.points == 70
    failed = completed(Level.PROVINCE, [69.5, 69.5, 70, 70, 70], "cnnttb-2025").decide()
    assert isinstance(failed, ResultNotRecognised) and failed.rating_label == "Không đạt"
    national = completed(Level.NATIONAL, [90, 90, 90, 90, 90], "cnnttb-2025").decide()
    assert isinstance(national, ResultApproved) and not national.goes_up_a_level and national.next_level is None


def test_deciding_twice_or_too_early_is_refused() -> None:
    history = five()
    with pytest.raises(Refused, match="cannot decide: scoring of this dossier is open"):
        history.decide()
    history.submit_all([80, 80, 80, 80, 80])
    history.evaluate_and_record()
    history.record(history.decide())
    with pytest.raises(Refused, match="cannot decide: scoring of this dossier is approved") as refused:
        history.decide()
    assert refused.value.detail["current_status"] == scoring.APPROVED


# ---- the record -----------------------------------------------------------------------------------------

def test_replay_folds_the_recorded_events_back_to_the_same_state() -> None:
    history = five()
    history.recuse("m4")
    history.submit_all([70, 82, 84, 86])
    history.evaluate_and_record()
    history.submit_all([84, 84, 85, 86])
    history.amend("m1", with_total(history.sheet, 84.5))
    history.evaluate_and_record()
    history.record(history.decide())
    assert replay(scoring.evolve, history.events) == history.state
    assert replay(scoring.evolve, []) is None
    assert history.dossier.version == len(history.events)
    prev = GENESIS_HASH
    for event in history.events:
        assert event.prev_hash == prev and event.hash == chain_hash(prev, event.hashed_content())
        prev = event.hash
    assert [e.type for e in history.events] == (
        ["scoring.opened", "judge.recused"] + ["score.submitted"] * 4 + ["scoring.rescore_requested"]
        + ["score.submitted"] * 4 + ["score.amended", "scoring.completed", "result.approved"])


def test_an_event_scoring_does_not_know_only_moves_the_version() -> None:
    history = five()
    before = history.dossier
    foreign = recorded("dossier-1", 2, history.events[-1].hash, history.panel)  # a PanelFormed
    after = scoring.evolve(before, foreign)
    assert after == dataclasses.replace(before, version=2)


def a_sheet() -> ScoreSubmitted:
    return ScoreSubmitted(sheet_id="s", member_id="m1", scoring_round=1, rulebook_id="ocop-2023",
                          rulebook_version=1, score_sheet="general", scores=[], total=0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(50, 200).map(lambda n: n / 2), min_size=5, max_size=5),
       st.permutations(["chair", "m1", "m2", "m3", "m4"]))
def test_the_outcome_does_not_depend_on_the_order_sheets_arrive(totals: list[float], order: list[str]) -> None:
    by_member = dict(zip(["chair", "m1", "m2", "m3", "m4"], totals, strict=True))
    first, second = five(), five()
    first.submit_all(by_member)
    second.submit_all({m: by_member[m] for m in order})
    one, two = first.evaluate(), second.evaluate()
    assert type(one) is type(two)
    assert one is not None and two is not None
    if isinstance(one, RescoreRequested) and isinstance(two, RescoreRequested):  # sealed, each with its nonce
        assert first.marks(one) == second.marks(two)
    else:
        assert one.model_dump() == two.model_dump()
    if isinstance(one, ScoringCompleted):
        assert min(totals) <= one.average_total <= max(totals)
        assert one.spread == max(totals) - min(totals) <= 10
    else:
        assert max(totals) - min(totals) > 10


def test_a_withdrawn_dossier_stops_being_scored_and_keeps_its_sheets() -> None:
    from scoring.domain.scoring import CANCELLED, cancel

    history = five()
    history.submit("m1", full(history.sheet))
    cancelled = cancel(history.dossier, "Chủ thể rút hồ sơ")
    assert cancelled is not None and cancelled.sheets_on_record == 1
    state = history.record(cancelled)
    assert state.status == CANCELLED and len(state.sheets) == 1
    with pytest.raises(Refused) as refused:
        scoring.submit(state, history.panel, OCOP23, "m2", full(history.sheet), "", history.key)
    assert refused.value.detail["current_status"] == CANCELLED
    assert cancel(state, "again") is None
