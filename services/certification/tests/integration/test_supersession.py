"""Supersession follows identity — the producer's registration number and the product — never a name."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.testing.fixtures import TopicReader, eventually

pytestmark = pytest.mark.integration
COOPERATIVE = "Hợp tác xã Đông Hưng"  # one name, two cooperatives: Bắc Giang (24) and Thái Bình (34)
PRODUCT = "Rượu nếp cẩm"
LATER = DecisionReference(number="12/QĐ-UBND", date=date(2026, 11, 21), signer="Trần Văn Hai",
                          authority="UBND tỉnh Bắc Giang")
EARLIER = DecisionReference(number="9/QĐ-UBND", date=date(2025, 3, 2), signer="Trần Văn Hai",
                            authority="UBND tỉnh Bắc Giang")


async def test_same_named_cooperatives_keep_their_certificates_and_identity_decides(env, infra):
    async with env.running() as cert:
        async def certificate(dossier_id):
            async def check():
                pointer = await env.db["certificates"].find_one({"dossier_id": dossier_id})
                return pointer["number"] if pointer else None
            return await eventually(check, what=f"the certificate of {dossier_id}")

        async def status(number):
            return (await cert.get(f"/certificates/{number}")).json()["status"]

        await env.approve(env.result("bg-1", producer=COOPERATIVE, registration="2400123456", province_code="24",
                                     product=PRODUCT))
        bac_giang = await certificate("bg-1")
        await env.approve(env.result("tb-1", producer=COOPERATIVE, registration="3400987654", province_code="34",
                                     product=PRODUCT))
        thai_binh = await certificate("tb-1")
        assert await status(bac_giang) == "valid" and await status(thai_binh) == "valid"

        # the Bắc Giang cooperative's product rated again, its name written otherwise (NFD, case, spacing)
        await env.approve(env.result("bg-2", producer=COOPERATIVE.upper(), registration="2400123456",
                                     province_code="24", decision=LATER,
                                     product=unicodedata.normalize("NFD", "  RƯỢU   nếp CẨM ")))
        newer = await certificate("bg-2")

        async def superseded():
            return await status(bac_giang) == "superseded" or None

        await eventually(superseded, what="the older Bắc Giang certificate superseded")
        assert await status(thai_binh) == "valid" and await status(newer) == "valid"
        signed = (await cert.get(f"/certificates/{newer}")).json()["certificate"]
        assert signed["supersedes"] == bac_giang

        # a late consumer brings an earlier decision of the same product last: the newer stays, the older is
        # born superseded
        await env.approve(env.result("bg-0", registration="2400123456", province_code="24", decision=EARLIER,
                                     product=PRODUCT))
        late = await certificate("bg-0")

        async def late_superseded():
            return await status(late) == "superseded" or None

        await eventually(late_superseded, what="the earlier decision's certificate superseded")
        assert await status(newer) == "valid"
        assert (await cert.get(f"/certificates/{late}")).json()["certificate"]["supersedes"] is None

        # an event from before registration numbers were carried: never superseded, never superseding, by name
        await env.approve(env.result("old-1", producer=COOPERATIVE, registration=None, product=PRODUCT))
        legacy = await certificate("old-1")
        await env.approve(env.result("old-2", producer=COOPERATIVE, registration=None, product=PRODUCT,
                                     decision=LATER))
        legacy_newer = await certificate("old-2")
        assert await status(legacy) == "valid" and await status(legacy_newer) == "valid"
        assert await status(thai_binh) == "valid" and await status(newer) == "valid"

        async with TopicReader(infra.kafka, f"{env.prefix}certification.events") as reader:
            events = await reader.wait_for(
                lambda es: sum(e.type == "certificate.issued" for e in es) == 6
                and sum(e.type == "certificate.superseded" for e in es) >= 2, what="the certificates on the topic")
        superseded_events = sorted((e.data["number"], e.data["superseded_by"]) for e in events
                                   if e.type == "certificate.superseded")
        assert superseded_events == sorted([(bac_giang, newer), (late, newer)])
