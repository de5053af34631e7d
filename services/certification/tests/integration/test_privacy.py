"""The holder's registration number (for a household producer, a personal identifier) is never in the signed
certificate — signed content can never be erased — nor in any public answer; staff still see it, and a
ceremony still knows whom to invite."""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader

from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.stored_events import stored

pytestmark = pytest.mark.integration
PERSONAL = "0123456789"  # a household producer's registration number


async def test_no_public_route_or_signed_document_carries_the_registration_number(env, infra, auth):
    async with env.running() as cert:
        await env.approve(env.result("dossier-1", producer="Hộ kinh doanh Nguyễn Văn An", registration=PERSONAL))

        async def issued():
            body = (await cert.get("/registry.json")).json()
            return body["items"][0]["number"] if len(body["items"]) == 1 else None

        number = await eventually(issued, what="the certificate")
        public = {
            "/registry.json": (await cert.get("/registry.json")).text,
            "/registry": (await cert.get("/registry")).text,
            f"/certificates/{number}": (await cert.get(f"/certificates/{number}")).text,
            f"/verify/{number}": (await cert.get(f"/verify/{number}")).text,
        }
        pdf = (await cert.get(f"/certificates/{number}.pdf")).content
        public["pdf"] = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
        for route, text in public.items():
            assert PERSONAL not in text, route
        assert json.loads(public[f"/certificates/{number}"])["certificate"]["holder"]["registration_number"] is None

        async with TopicReader(infra.kafka, f"{env.prefix}certification.events") as reader:
            events = await reader.wait_for(lambda es: any(e.type == "certificate.issued" for e in es),
                                           what="the certificate on the topic")
        signed = next(e for e in events if e.type == "certificate.issued").data
        assert PERSONAL not in json.dumps(signed)
        kept = await stored(env.db["events"])
        assert kept and not any(PERSONAL in json.dumps(e["data"], ensure_ascii=False) for e in kept)

        # staff see who holds it, from certification's own read model
        staff = (await cert.get("/certificates", headers=auth("sec", "secretariat"))).json()
        assert staff["items"][0]["holder"]["registration_number"] == PERSONAL
        # and an old certificate's number (issued before this change) is kept out of the public registry
        await env.db["certificates"].update_one({"number": number},
                                                {"$set": {"holder.registration_number": PERSONAL}})
        assert PERSONAL not in (await cert.get("/registry.json")).text
