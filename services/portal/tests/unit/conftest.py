"""What the portal's unit tests share: the portal in front of stand-ins for the four services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from portal.main import PortalSettings, build

TODAY = date(2026, 11, 23)  # a Monday: the portal's clock in these tests


@pytest.fixture
def stand_in_portal() -> Callable[..., FastAPI]:
    """``stand_in_portal(answer, **settings)``: the portal, its calls to intake, scoring, certification and notify
    (hosts ``http://<service>``) answered by ``answer`` (an ``httpx.MockTransport`` handler)."""

    def portal(answer: Callable[[httpx.Request], httpx.Response], **settings: Any) -> FastAPI:
        app = build(PortalSettings(intake_url="http://intake", scoring_url="http://scoring",
                                   certification_url="http://certification", notify_url="http://notify",
                                   portal_local=True, **settings), clock=lambda: TODAY)
        app.state.upstream.client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        return app

    return portal
