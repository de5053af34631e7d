"""Competent authorities as ids (ADR 0029): from a round's level and area, carried by approvers' tokens, and
read into every round.opened, also those recorded before rounds named their approving authority."""

from __future__ import annotations

from pathlib import Path

import pytest

from binhchon_kit.auth.devtoken import ensure_keys, mint
from binhchon_kit.auth.tokens import TokenVerifier
from binhchon_kit.authorities import acts_for, authority_id, number_prefix
from binhchon_kit.contracts.common import Level
from binhchon_kit.contracts.intake import RoundOpened

ROUND_V2 = {  # a round.opened as recorded before v3: no approving authority
    "round_id": "round-1", "code": "OCOP-LN-2025", "title": "Đánh giá sản phẩm OCOP huyện Lục Ngạn",
    "programme": "OCOP", "rulebook_id": "ocop-2023", "level": "district", "area": {"province_code": "24"},
    "year": 2025, "batch": 1, "organiser": "UBND huyện Lục Ngạn",
    "schedule": {"submission_opens": "2025-03-02", "submission_closes": "2025-04-30"}, "receives": "all"}


@pytest.mark.parametrize(("level", "area", "expected"), [
    (Level.NATIONAL, {}, "national"),
    (Level.REGION, {"region_code": "MB"}, "region:MB"),
    (Level.PROVINCE, {"province_code": "24"}, "province:24"),
    (Level.DISTRICT, {"province_code": "24", "district_code": "219"}, "district:219"),
    (Level.COMMUNE, {"province_code": "24", "commune_code": "07480"}, "commune:07480"),
    (Level.DISTRICT, {"province_code": "24"}, "district-of-province:24"),
    (Level.PROVINCE, {}, None),
    (Level.REGION, {"province_code": "24"}, None),
])
def test_an_authority_is_the_one_over_the_area_at_the_level(level: Level, area: dict[str, str],
                                                             expected: str | None) -> None:
    assert authority_id(level, **area) == expected


def test_only_an_authority_one_acts_for_counts() -> None:
    assert acts_for(frozenset({"province:24"}), "province:24")
    assert not acts_for(frozenset({"province:24"}), "province:66")
    assert not acts_for(frozenset({"province:24"}), "district:219")  # the province is not its districts
    assert not acts_for(frozenset({"province:24"}), None)
    assert number_prefix("district:219") != number_prefix("district:220")


def test_a_round_opened_before_v3_reads_with_the_authority_over_its_area() -> None:
    opened = RoundOpened.model_validate(ROUND_V2)
    assert (opened.approving_authority.id, opened.approving_authority.name) == (
        "district-of-province:24", "UBND huyện Lục Ngạn")
    named = RoundOpened.model_validate({**ROUND_V2, "level": "province", "organiser": "Sở Công Thương tỉnh Bắc Giang",
                                        "approving_authority": {"id": "province:24", "name": "UBND tỉnh Bắc Giang"}})
    assert named.approving_authority.name == "UBND tỉnh Bắc Giang"  # a v3 round says who decides: kept as said


def test_an_approvers_token_carries_the_authorities_they_act_for(tmp_path: Path) -> None:
    private, public = ensure_keys(tmp_path / "keys")
    verifier = TokenVerifier.from_file(public, issuer="binhchon-dev", audience="binhchon")
    token = mint(private.read_bytes(), subject="ubnd-bg", roles=["approver"], authorities=["province:24"])
    assert verifier.verify(token).authorities == frozenset({"province:24"})
    assert verifier.verify(mint(private.read_bytes(), subject="sec", roles=["secretariat"])).authorities == frozenset()



@pytest.mark.parametrize("claim", ["province:24", {"province:24": True}, None])
def test_an_authorities_claim_of_another_shape_names_none(claim: object) -> None:
    from binhchon_kit.auth.tokens import _authorities

    assert _authorities(claim) == frozenset()
    assert _authorities(["province:24", 24, None]) == frozenset({"province:24"})
