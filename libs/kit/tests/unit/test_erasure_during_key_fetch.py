"""An erasure heard while a key's fetch is in flight stays heard: the answer (given before the erasure) does not
overwrite ``drop``'s tombstone, so no later page of this replica opens the erased key (ADR 0048, second
amendment). Found by the review of stop 24; it failed before."""

import base64

import httpx

from binhchon_kit.personal import new_kid
from binhchon_kit.personal_keys import KeyClient


class ErasedDuringTheRequest(httpx.AsyncBaseTransport):
    """Intake answers with the key (it was not erased yet); the erasure event reaches this process before the
    answer is read."""

    def __init__(self) -> None:
        self.client: KeyClient | None = None
        self.asked = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.asked += 1
        kid = request.url.path.rsplit("/", 1)[1]
        if self.asked == 1:
            assert self.client is not None
            self.client.drop([kid])  # CopiesOpener.on_erased, run by the every-replica subscriber meanwhile
            return httpx.Response(200, json={"key": base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("=")})
        return httpx.Response(410)


async def test_an_erasure_heard_during_the_fetch_stays_heard() -> None:
    service = ErasedDuringTheRequest()
    keys = KeyClient("http://intake", lambda: "token", transport=service)
    service.client = keys
    kid = new_kid()
    await keys.key(kid)  # the page being served when the erasure came: may still show it
    assert await keys.key(kid) is None  # the next page must not
