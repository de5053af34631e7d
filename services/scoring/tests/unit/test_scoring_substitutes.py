"""A dossier whose eligible members are all recused could never complete: a substitute member, added for that
dossier in place of a recused one, scores it and scoring completes."""

from __future__ import annotations

import pytest

from binhchon_kit.contracts.scoring import MemberRole, ScoringCompleted
from scoring.domain import scoring
from scoring.domain.errors import Refused

from .scoring_builders import ScoringHistory, full, member, panel, rulebook

OCOP23 = rulebook("ocop-2023")
RESERVE = member("reserve-1")


def two() -> ScoringHistory:
    """A chair and one member who score; a secretary."""
    return ScoringHistory(OCOP23, "province", panel(2))


def test_all_recused_never_completes_until_a_substitute_scores() -> None:
    history = two()
    history.recuse("chair")
    history.recuse("m1")
    assert history.evaluate() is None
    with pytest.raises(Refused, match="quorum has not scored"):
        history.evaluate(closing=True)

    state = history.substitute(RESERVE, replaces="m1")
    assert [m.id for m in state.substitutes] == ["reserve-1"] and state.substituted == {"m1"}
    assert history.events[-1].type == "panel.member_substituted"
    assert history.events[-1].data["replaces"] == "m1" and history.events[-1].data["dossier_id"] == "dossier-1"

    history.submit("reserve-1", full(history.sheet))
    outcome = history.evaluate()
    assert isinstance(outcome, ScoringCompleted)
    assert outcome.totals == {"reserve-1": 100}


def test_a_substitute_stands_in_for_a_recused_member_only_once() -> None:
    history = two()
    with pytest.raises(Refused) as refused:
        history.substitute(RESERVE, replaces="m1")  # m1 is not recused
    assert refused.value.kind == "invalid" and refused.value.detail["field"] == "replaces"
    history.recuse("m1")
    history.substitute(RESERVE, replaces="m1")
    with pytest.raises(Refused) as refused:
        history.substitute(member("reserve-2"), replaces="m1")
    assert refused.value.kind == "conflict" and "already has a substitute" in refused.value.message


@pytest.mark.parametrize(("new_member", "field"), [
    (member("chair"), "substitute.id"), (member("sec"), "substitute.id"),
    (member("reserve-1", MemberRole.CHAIR), "substitute.role"),
    (member("reserve-1", MemberRole.SECRETARY), "substitute.role"),
], ids=["the-chair", "the-secretary", "as-chair", "as-secretary"])
def test_a_substitute_is_a_new_scoring_member(new_member, field) -> None:
    history = two()
    history.recuse("m1")
    with pytest.raises(Refused) as refused:
        history.substitute(new_member, replaces="m1")
    assert refused.value.kind == "invalid" and refused.value.detail["field"] == field


def test_a_substitute_scores_that_dossier_only() -> None:
    history = two()
    history.recuse("m1")
    history.substitute(RESERVE, replaces="m1")
    other = two()
    with pytest.raises(Refused) as refused:
        other.submit("reserve-1", full(other.sheet))
    assert refused.value.kind == "forbidden"


def test_no_substitute_once_scoring_is_over() -> None:
    history = two()
    history.recuse("m1")
    history.submit("chair", full(history.sheet))
    history.evaluate_and_record()
    assert history.dossier.status == scoring.COMPLETED
    with pytest.raises(Refused, match="scoring of this dossier is completed"):
        history.substitute(RESERVE, replaces="m1")
