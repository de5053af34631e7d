"""The portal's composition root: a backend-for-frontend over the four services (ADR 0049)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx
from fastapi import FastAPI

from binhchon_kit.vietnam_time import today_in_vietnam
from binhchon_kit.web import serve
from portal.oidc import Provider
from portal.pages import council, judge, producer, secretariat, signin
from portal.sessions import Sessions
from portal.settings import PortalSettings
from portal.upstream import Upstream
from portal.web import create_portal


def build(settings: PortalSettings | None = None, clock: Callable[[], date] = today_in_vietnam) -> FastAPI:
    """``clock``: today in Vietnam (which rounds are open); tests fix it."""
    settings = settings or PortalSettings()
    client = httpx.AsyncClient(timeout=settings.portal_upstream_seconds)
    app = create_portal(settings, Upstream(settings, client), Sessions(settings.portal_session_minutes))
    app.state.clock = clock
    app.state.provider = Provider(
        client, settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret, settings.oidc_scopes,
        settings.portal_public_url.rstrip("/") + "/dang-nhap/oidc/ve") if settings.oidc_issuer else None
    app.include_router(signin.router)
    app.include_router(producer.router)
    app.include_router(secretariat.router)
    app.include_router(judge.router)
    app.include_router(council.router)
    return app


def run() -> None:
    """The console script ``binhchon-portal``."""
    serve(build, PortalSettings())


if __name__ == "__main__":
    run()
