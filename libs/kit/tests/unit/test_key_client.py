"""The key client keeps one connection pool for its life (a client per key cost a TLS context and a connection
each: a quarter of notify's CPU in bench/pipeline.py)."""

import asyncio
import base64

import httpx

from binhchon_kit.personal import ERASED, new_kid
from binhchon_kit.personal_keys import CopiesOpener, KeyClient


class KeyService(httpx.AsyncBaseTransport):
    """Intake's key service as a transport that counts its requests and its closings."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.closed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert not self.closed, "a request on a closed pool"
        self.asked.append(request.url.path)
        kid = request.url.path.rsplit("/", 1)[1]
        return httpx.Response(200, json={"key": base64.urlsafe_b64encode(kid.encode() * 4).decode().rstrip("=")})

    async def aclose(self) -> None:
        self.closed += 1


async def test_every_key_is_fetched_through_one_pool_closed_only_with_the_client() -> None:
    service = KeyService()
    keys = KeyClient("http://intake", lambda: "token", transport=service)
    first, second = new_kid(), new_kid()
    assert await keys.key(first) == first.encode() * 4
    assert await keys.key(second) == second.encode() * 4
    assert await keys.key(first) == first.encode() * 4  # cached: not asked again
    assert service.asked == [f"/personal-keys/{first}", f"/personal-keys/{second}"]
    assert service.closed == 0
    await keys.aclose()
    assert service.closed == 1


async def test_the_pool_a_service_builds_as_it_starts_is_the_one_every_key_goes_through() -> None:
    service = KeyService()
    keys = KeyClient("http://intake", lambda: "token", transport=service)
    pool = keys.client()  # notify's start
    kid = new_kid()
    assert await keys.key(kid) == kid.encode() * 4
    assert keys.client() is pool
    assert service.asked == [f"/personal-keys/{kid}"]
    await keys.aclose()
    assert service.closed == 1


class SlowKeyService(KeyService):
    """The key service answering each request after a pause, counting how many it holds at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = self.most_at_once = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most_at_once = max(self.most_at_once, self.in_flight)
        await asyncio.sleep(0.05)
        self.in_flight -= 1
        return await super().handle_async_request(request)


async def test_a_pages_sealed_copies_ask_for_their_keys_at_once_not_one_after_another() -> None:
    service = SlowKeyService()
    opener = CopiesOpener(KeyClient("http://intake", lambda: "token", transport=service))
    kids = [new_kid() for _ in range(5)]
    page = [{"producer_name": {"enc": "A256GCM", "kid": kid, "iv": "AAAA", "ct": "AAAA", "src": "e#producer.name"}}
            for kid in kids]
    shown = await opener(page)
    assert sorted(service.asked) == sorted(f"/personal-keys/{kid}" for kid in kids)
    assert service.most_at_once == len(kids)
    assert [row["producer_name"] for row in shown] == [ERASED] * len(kids)  # these made-up copies open with no key
    await opener.aclose()


async def test_no_key_is_cached_while_the_process_does_not_hear_erasures() -> None:
    """Until the service's every-replica erasures handler is positioned (and while its consumers are down), an
    erasure would not reach this process's cache: each use asks intake again, and nothing is kept."""
    service = KeyService()
    keys = KeyClient("http://intake", lambda: "token", transport=service, clock=lambda: 0.0)
    listening = False
    keys.caching = lambda: listening
    kid = new_kid()
    await keys.key(kid)
    await keys.key(kid)
    assert service.asked == [f"/personal-keys/{kid}"] * 2
    listening = True
    await keys.key(kid)
    await keys.key(kid)  # cached from now on
    assert len(service.asked) == 3
    listening = False
    await keys.key(kid)  # consumers down: what was cached is not trusted
    assert len(service.asked) == 4
    await keys.aclose()
