"""The key client's connections outlive each key it fetches (notify.adapters.intake_keys)."""

import base64

import httpx

from binhchon_kit.personal import new_kid
from binhchon_kit.personal_keys import KeyClient
from notify.adapters.intake_keys import KeptOpen


class Pool(httpx.AsyncBaseTransport):
    """Intake's key service as a pool that counts its requests and whether anyone closed it."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert not self.closed, "a request on a closed pool"
        self.asked.append(request.url.path)
        kid = request.url.path.rsplit("/", 1)[1]
        return httpx.Response(200, json={"key": base64.urlsafe_b64encode(kid.encode() * 4).decode().rstrip("=")})

    async def aclose(self) -> None:
        self.closed = True


async def test_each_key_fetched_through_one_pool_that_no_client_closes() -> None:
    pool = Pool()
    keys = KeyClient("http://intake", lambda: "token", transport=KeptOpen(pool))
    first, second = new_kid(), new_kid()
    assert await keys.key(first) == first.encode() * 4
    assert await keys.key(second) == second.encode() * 4
    assert pool.asked == [f"/personal-keys/{first}", f"/personal-keys/{second}"]
    assert not pool.closed
