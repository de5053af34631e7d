"""Certificates of an authority (ADR 0029), on the real broker and store: a result.approved v2 names its
authority's id; the certificate shows the round's authority, is numbered in that authority's own sequence, and
only an approver acting for it revokes it (403 for any other, even a superior one)."""

from __future__ import annotations

from datetime import date

import pytest

from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.testing.fixtures import eventually

pytestmark = pytest.mark.integration


def decision(name: str, authority_id: str) -> DecisionReference:
    return DecisionReference(number="15/QĐ-UBND", date=date(2026, 11, 20), signer="Phó Chủ tịch UBND huyện",
                             authority=name, authority_id=authority_id)


LUC_NGAN = decision("UBND huyện Lục Ngạn", "district:219")
LUC_NAM = decision("UBND huyện Lục Nam", "district:220")


async def test_each_authority_numbers_its_own_certificates_and_alone_revokes_them(env, auth):
    results = [env.result("ln-1", product="Vải thiều sấy Lục Ngạn", decision=LUC_NGAN, registration="2400000001"),
               env.result("ln-2", product="Nước ép vải Lục Ngạn", decision=LUC_NGAN, registration="2400000002"),
               env.result("lnam-1", product="Mật ong rừng Lục Nam", decision=LUC_NAM, registration="2400000003")]
    staff = auth("sec", "secretariat")
    async with env.running() as cert:
        await env.approve(*results)

        async def issued():
            body = (await cert.get("/certificates", params={"round_id": "round-1"}, headers=staff)).json()
            return body["items"] if len(body["items"]) == 3 else None

        items = {i["dossier_id"]: i for i in await eventually(issued, what="three certificates")}
        # two authorities whose initials are both UBNDHLN: two prefixes, two sequences
        # (the two of Lục Ngạn are numbered in the order certification reads them: partitions, not the test, say)
        assert sorted(items[d]["number"] for d in ("ln-1", "ln-2")) == ["OCOP-H.219-2026-00001",
                                                                       "OCOP-H.219-2026-00002"]
        assert items["lnam-1"]["number"] == "OCOP-H.220-2026-00001"
        signed = (await cert.get("/certificates/OCOP-H.220-2026-00001")).json()["certificate"]
        assert signed["issuer"] == "UBND huyện Lục Nam"
        assert signed["decision"]["authority_id"] == "district:220"  # under the signature
        assert "UBND huyện Lục Nam" in (await cert.get("/verify/OCOP-H.220-2026-00001")).text

        path = "/certificates/OCOP-H.220-2026-00001/revocation"
        for others in [(), ("province:33",), ("district:219",), ("province:24",)]:  # Đắk Lắk, the neighbour,
            r = await cert.post(path, json={"reason": "Hậu kiểm"},  # even the province over it
                                headers=auth("ubnd-x", "approver", authorities=others))
            assert r.status_code == 403, r.text
            assert r.json()["reason"] == "not_this_authority" and r.json()["authority_id"] == "district:220"
        assert (await cert.get("/certificates/OCOP-H.220-2026-00001")).json()["status"] == "valid"

        r = await cert.post(path, json={"reason": "Hậu kiểm không đạt"},
                            headers=auth("ubnd-lucnam", "approver", authorities=("district:220",)))
        assert r.status_code == 201, r.text
        assert (await cert.get("/certificates/OCOP-H.220-2026-00001")).json()["status"] == "revoked"
        assert (await cert.get("/certificates/OCOP-H.219-2026-00001")).json()["status"] == "valid"
