"""A panel member reading a dossier scored by code sees the code and the product, never who made it: not in the
dossier's own fields, nor in the authority's decision once there is one (it repeats the producer)."""

from __future__ import annotations

from scoring.domain.by_code import as_judges_see

from .scoring_builders import rulebook


def test_the_decision_names_no_producer_to_a_judge_of_a_round_scored_by_code() -> None:
    doc = {"dossier_id": "dossier-1", "sample_code": "MS-7N4XB", "product_name": "Chiếu cói Thới Long",
           "producer_name": "HTX Thới Long", "status": "approved",
           "decision": {"product_name": "Chiếu cói Thới Long", "producer_name": "HTX Thới Long",
                        "producer_address": {"province_code": "92"}, "producer_registration_number": "1800123456",
                        "decision_ref": "12/QĐ-BCT", "rating": "recognised"}}
    seen = as_judges_see(doc, rulebook("cnnttb-2025"))
    assert not [k for k in seen if k.startswith("producer")]
    assert not [k for k in seen["decision"] if k.startswith("producer")]
    assert "HTX Thới Long" not in repr(seen) and "1800123456" not in repr(seen)
    assert seen["sample_code"] == "MS-7N4XB" and seen["decision"]["decision_ref"] == "12/QĐ-BCT"
    assert as_judges_see(doc, rulebook("ocop-2023")) == doc  # OCOP's sheets are not evaluated by code
