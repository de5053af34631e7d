"""The connection pool notify asks intake's key service through, for the process's life.

binhchon_kit.personal_keys.KeyClient opens an httpx client per key it fetches and closes it after. Without a
transport of its own, each such client built a TLS context (the CA bundle read and parsed) and a new connection:
a quarter of notify's CPU in the pipeline bench (bench/pipeline.py, py-spy, 2026-11-29), on every dossier's first
mail. Given this transport, the clients come and go and the pool stays: one TLS context, connections kept alive.
"""

from __future__ import annotations

import httpx


class KeptOpen(httpx.AsyncBaseTransport):
    """A transport that the clients using it cannot close: its pool lives as long as the process."""

    def __init__(self, pool: httpx.AsyncBaseTransport | None = None) -> None:
        self.pool = pool or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.pool.handle_async_request(request)

    async def aclose(self) -> None:
        """A client closing: the pool stays for the next one."""
