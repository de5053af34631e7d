"""A certificate's validity runs from the recognition decision; its number carries the decision's year; the day
of issue stays the day of issue — as the signed JSON, the PDF, the verify page and the topic show them."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.signing import verify_document
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.stored_events import stored

pytestmark = pytest.mark.integration
OLD_DECISION = DecisionReference(number="1520/QĐ-UBND", date=date(2023, 12, 8), signer="Lê Văn Tỉnh",
                                 authority="UBND tỉnh Bắc Giang")


async def test_a_late_certificate_counts_from_its_decision_and_is_expiring_at_once(env, infra):
    # seed 004: a batch of 3-star certificates dated by a decision of 08/12/2023, issued on 23/11/2026
    assert env.clock() == date(2026, 11, 23)
    async with env.running() as cert:
        await env.approve(env.result("dossier-late", stars=3, points=61.0, decision=OLD_DECISION))

        async def issued():
            body = (await cert.get("/registry.json")).json()
            return body["items"] if len(body["items"]) == 1 else None

        number = (await eventually(issued, what="the certificate"))[0]["number"]
        assert number == "OCOP-UBNDTBG-2023-00001"  # the decision's year, not the day it was processed

        signed = (await cert.get(f"/certificates/{number}")).json()
        assert verify_document(signed, (await cert.get("/.well-known/jwks.json")).json())[0]
        body = signed["certificate"]
        assert body["issued_on"] == "2026-11-23"  # the day of issue
        assert body["valid_until"] == "2026-12-08"  # 08/12/2023 + 36 months
        assert body["holder"]["registration_number"] is None  # kept out of signed content (ADR 0010)

        # 35½ months after its decision, the certificate ends within 30 days: the holder is told now
        async with TopicReader(infra.kafka, f"{env.prefix}certification.events") as reader:
            events = await reader.wait_for(lambda es: any(e.type == "certificate.expiring" for e in es),
                                           what="certificate.expiring on the topic")
        expiring = next(e for e in events if e.type == "certificate.expiring")
        assert expiring.data["number"] == number and expiring.data["valid_until"] == "2026-12-08"

        page = (await cert.get(f"/verify/{number}")).text
        assert "<th>Ngày cấp</th><td>23/11/2026</td>" in page
        assert "<th>Có giá trị đến</th><td>08/12/2026</td>" in page
        assert "ngày 08/12/2023" in page  # the decision itself

        pdf = (await cert.get(f"/certificates/{number}.pdf")).content
        text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
        assert "Ngày cấp: 23/11/2026" in text and "Có giá trị đến: 08/12/2026" in text


async def test_numbers_follow_the_decision_year_whatever_the_processing_day(env):
    newer = DecisionReference(number="77/QĐ-UBND", date=date(2025, 6, 30), signer="Lê Văn Tỉnh",
                              authority="UBND tỉnh Bắc Giang")
    async with env.running() as cert:
        await env.approve(env.result("dossier-2023", decision=OLD_DECISION, product="Mật ong bạc hà",
                                     validity_months=60))

        async def numbers(count):
            async def check():
                body = (await cert.get("/registry.json", params={"limit": 200})).json()
                return sorted(i["number"] for i in body["items"]) if len(body["items"]) == count else None
            return await eventually(check, what=f"{count} certificates")

        assert await numbers(1) == ["OCOP-UBNDTBG-2023-00001"]
        await env.approve(env.result("dossier-2025", decision=newer, product="Chè Shan tuyết"))
        assert await numbers(2) == ["OCOP-UBNDTBG-2023-00001", "OCOP-UBNDTBG-2025-00001"]
        env.clock.day = date(2027, 1, 4)  # a late consumer, another year: still the decision's year
        await env.approve(env.result("dossier-2023-b", decision=OLD_DECISION, product="Gạo nếp cái hoa vàng",
                                     validity_months=60))
        listed = await numbers(3)
        assert "OCOP-UBNDTBG-2023-00002" in listed and not any("-2027-" in n for n in listed)
        registry_2023 = (await cert.get("/registry.json", params={"year": 2023})).json()
        assert len(registry_2023["items"]) == 2 and registry_2023["next"] is None


async def test_a_certificate_ended_before_it_was_issued_is_told_only_that_it_expired(env, infra):
    # decided 10/01/2022, valid 36 months: it ended on 10/01/2025, long before it is issued on 23/11/2026
    ancient = DecisionReference(number="3/QĐ-UBND", date=date(2022, 1, 10), signer="Lê Văn Tỉnh",
                                authority="UBND tỉnh Bắc Giang")
    async with env.running() as cert:
        await env.approve(env.result("dossier-ancient", decision=ancient))
        async with TopicReader(infra.kafka, f"{env.prefix}certification.events") as reader:
            await reader.wait_for(lambda es: any(e.type == "certificate.expired" for e in es)
                                  and sum(e.type == "certificate.issued" for e in es) == 1,
                                  what="certificate.expired on the topic")
            await cert.app.state.certification.send_expiry_notices()  # the daily sweep passes: nothing more
            await env.approve(env.result("dossier-marker", product="Chè xanh", registration="2400000009"))
            events = await reader.wait_for(lambda es: sum(e.type == "certificate.issued" for e in es) == 2,
                                           what="the marker certificate after the sweep")
        ancient_events = [e for e in events if e.subject == "dossier-ancient"]
        assert [e.type for e in ancient_events] == ["certificate.issued", "certificate.expired"]
        assert not any(e.type == "certificate.expiring" for e in events)
        number = ancient_events[0].data["number"]
        assert sum(e["data"].get("number") == number for e in await stored(env.db["events"])) == 2  # the store too
        assert (await cert.get(f"/certificates/{number}")).json()["status"] == "expired"
