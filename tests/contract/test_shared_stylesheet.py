"""One look for the portal and certification's public pages: both serve the kit's stylesheet, byte for byte, each
from its own origin (a page's CSP allows styles from that origin only), so there is no second copy to drift."""

from __future__ import annotations

from importlib.resources import files

import httpx

from certification.adapters.http import stylesheet as certification_stylesheet
from portal.main import PortalSettings
from portal.main import build as build_portal


async def test_the_portal_and_certification_serve_the_kit_s_one_stylesheet() -> None:
    kit = files("binhchon_kit").joinpath("static/portal.css").read_bytes()
    portal = build_portal(PortalSettings(log_level="WARNING"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=portal), base_url="http://portal") as client:
        served = await client.get("/static/portal.css")
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/css")
    assert served.content == kit
    # certification's route answers the same bytes (its pages link /static/portal.css on their own origin)
    assert (await certification_stylesheet()).body == kit
    assert b"--brand: #8b1a1a" in kit and b".verdict" in kit  # the portal's colours, the public pages' rules
