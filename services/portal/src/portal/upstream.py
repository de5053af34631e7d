"""The four services, called over HTTP with the signed-in person's bearer token: one httpx client per process.
The portal keeps none of what they answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:  # the composition root defines it (one settings class per service, in main)
    from portal.main import PortalSettings



class UpstreamError(Exception):
    """A service refused or failed: its status and its answer (shown in Vietnamese by the pages)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Upload:
    file_name: str
    media_type: str
    content: bytes


def _refusal(response: httpx.Response) -> UpstreamError:
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:500]}
    return UpstreamError(response.status_code, body)


class Upstream:
    def __init__(self, settings: PortalSettings, client: httpx.AsyncClient | None = None) -> None:
        self.urls = {"intake": settings.intake_url, "scoring": settings.scoring_url,
                     "certification": settings.certification_url, "notify": settings.notify_url}
        self.client = client or httpx.AsyncClient(timeout=settings.portal_upstream_seconds)

    async def call(self, service: str, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        try:
            return await self.client.request(method, self.urls[service].rstrip("/") + path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamError(503, {"detail": f"{service} unreachable: {type(exc).__name__}"}) from exc

    async def json(self, service: str, method: str, path: str, token: str | None, **kwargs: Any) -> Any:
        response = await self.call(service, method, path, token, **kwargs)
        if response.status_code >= 400:
            raise _refusal(response)
        return response.json()

    async def store_document(self, token: str, upload: Upload) -> dict[str, Any]:
        """Intake's document store (``POST /documents``, ADR 0045): sha256, size_bytes, media_type, file_name. Intake
        types the content by its first bytes and bounds its size; its refusal (413, 415, 422) is shown as it is."""
        response = await self.call("intake", "POST", "/documents", token,
                                   files={"file": (upload.file_name, upload.content, upload.media_type)})
        if response.status_code >= 400:
            raise _refusal(response)
        return response.json()  # type: ignore[no-any-return]

    async def ready(self) -> dict[str, str]:
        """Each service's /readyz, as the portal's readiness reports it."""
        checks = {}
        for name in self.urls:
            try:
                r = await self.client.get(self.urls[name].rstrip("/") + "/readyz", timeout=2)
                checks[name] = "ok" if r.status_code == 200 else f"answered {r.status_code}"
            except httpx.HTTPError as exc:
                checks[name] = f"unreachable ({type(exc).__name__})"
        return checks
