"""The portal's settings: where the four services answer, how people sign in, how long a session lasts."""

from __future__ import annotations

from binhchon_kit.settings import ServiceSettings


class PortalSettings(ServiceSettings):
    service_name: str = "portal"
    http_port: int = 8000
    # a dossier's documents arrive through the portal's forms: a few scanned PDFs and photos
    max_body_bytes: int = 30 * 1024 * 1024
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
