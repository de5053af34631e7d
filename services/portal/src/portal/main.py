"""The portal's composition root: a backend-for-frontend over the four services (ADR 0049)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from datetime import date
from typing import Self
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from pydantic import ValidationError, model_validator

from binhchon_kit.settings import ServiceSettings
from binhchon_kit.vietnam_time import today_in_vietnam
from binhchon_kit.web import serve
from portal.oidc import Provider
from portal.pages import council, judge, producer, secretariat, signin
from portal.sessions import Sessions
from portal.upstream import Upstream
from portal.web import create_portal


class PortalSettings(ServiceSettings):
    service_name: str = "portal"
    http_port: int = 8000
    # a dossier's documents arrive through two of the portal's forms (filing, a supplement): a few scanned PDFs and
    # photos; every other form keeps the kit's MAX_BODY_BYTES (1 MiB)
    portal_upload_bytes: int = 30 * 1024 * 1024
    intake_url: str = "http://127.0.0.1:8001"
    scoring_url: str = "http://127.0.0.1:8002"
    certification_url: str = "http://127.0.0.1:8003"
    notify_url: str = "http://127.0.0.1:8004"
    # OpenID Connect (the province's identity provider): the issuer whose discovery document is read, this
    # portal's client, and the address the provider sends people back to (…/dang-nhap/oidc/ve).
    oidc_issuer: str = ""
    oidc_client_id: str = "binhchon-portal"
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid profile"
    portal_public_url: str = "http://127.0.0.1:8000"
    # The development sign-in (pick a person and a role, a token minted with the dev key): never in production.
    portal_dev_sign_in: bool = False
    # local: the session cookie is not marked Secure (plain http on 127.0.0.1); anything else sends it on https only
    portal_local: bool = False
    portal_session_minutes: int = 8 * 60
    # how long the portal waits for a service before telling the person to try again
    portal_upstream_seconds: float = 20.0

    @model_validator(mode="after")
    def _dev_sign_in_on_loopback_only(self) -> Self:
        """The development sign-in mints tokens every service trusts: the portal refuses to start with it on
        anywhere but a developer's own machine (ADR 0049, amendment "the development sign-in stays on loopback")."""
        if not self.portal_dev_sign_in:
            return self
        wrong = []
        if not self.portal_local:
            wrong.append("PORTAL_LOCAL is false")
        if not is_loopback(urlsplit(self.portal_public_url).hostname or ""):
            wrong.append(f"PORTAL_PUBLIC_URL={self.portal_public_url} is not on loopback")
        if not is_loopback(self.http_host):
            wrong.append(f"HTTP_HOST={self.http_host} is not loopback")
        if self.deployment != "development":
            wrong.append(f"DEPLOYMENT={self.deployment}")
        if wrong:
            raise ValueError("PORTAL_DEV_SIGN_IN=true (tokens minted with the dev key) is for a developer's own "
                             "machine only, and here " + "; ".join(wrong) + ". Turn PORTAL_DEV_SIGN_IN off, or "
                             "run on loopback with PORTAL_LOCAL=true and DEPLOYMENT=development.")
        return self


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1); a name that merely starts so is not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build(settings: PortalSettings | None = None, clock: Callable[[], date] = today_in_vietnam,
          timer: Callable[[], float] = time.monotonic) -> FastAPI:
    """``clock``: today in Vietnam (which rounds are open); ``timer``: monotonic seconds (sessions' and the
    provider's JWKS's lifetimes). Tests fix or move both."""
    settings = settings or PortalSettings()
    client = httpx.AsyncClient(timeout=settings.portal_upstream_seconds)
    app = create_portal(settings, Upstream(settings, client), Sessions(settings.portal_session_minutes, timer),
                        uploads=producer.UPLOADS)
    app.state.clock = clock
    app.state.provider = Provider(
        client, settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret, settings.oidc_scopes,
        settings.portal_public_url.rstrip("/") + "/dang-nhap/oidc/ve", timer) if settings.oidc_issuer else None
    app.state.dev_key = None  # the dev key's private half, read at the first development sign-in
    app.include_router(signin.router)
    app.include_router(producer.router)
    app.include_router(secretariat.router)
    app.include_router(judge.router)
    app.include_router(council.router)
    return app


def run() -> None:
    """The console script ``binhchon-portal``: settings that may not go together stop it with their names."""
    try:
        settings = PortalSettings()
    except ValidationError as exc:
        raise SystemExit(f"binhchon-portal does not start: {exc}") from None
    serve(build, settings)


if __name__ == "__main__":
    run()
