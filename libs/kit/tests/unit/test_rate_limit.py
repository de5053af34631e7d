"""The public routes' rate limit (issue 13: 300 guesses in 6 s went unthrottled), on an injected clock."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from binhchon_kit.auth.policy import PUBLIC
from binhchon_kit.ratelimit import RATE_LIMITED, RateLimiter, rate_limited_operations


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_and_each_client_its_own_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(60, burst=3, clock=clock)  # one a second after a burst of three
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == 1.0  # the fourth waits a second
    assert limiter.take("b") == 0  # another address is not slowed by the first
    clock.now += 1.0
    assert limiter.take("a") == 0
    assert RateLimiter(0, clock=clock).take("a") == 0  # 0: no limit


def test_old_clients_are_forgotten_first_so_memory_stays_bounded() -> None:
    limiter = RateLimiter(60, burst=1, clock=Clock(), max_clients=2)
    for client in ("a", "b", "c"):
        limiter.take(client)
    assert limiter.take("a") == 0  # "a" was forgotten: a fresh bucket


async def test_past_the_limit_429_with_retry_after_in_the_error_shape() -> None:
    app = FastAPI()
    app.state.public_limiter = RateLimiter(60, burst=2, clock=Clock())

    @app.get("/verify", dependencies=[PUBLIC, RATE_LIMITED])
    async def verify() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/healthz", dependencies=[PUBLIC])
    async def healthz() -> dict[str, str]:
        return {"ok": "yes"}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        statuses = [(await client.get("/verify")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        r = await client.get("/verify")
        assert r.headers["retry-after"] == "1" and set(r.json()) == {"detail"}
        assert [(await client.get("/healthz")).status_code for _ in range(5)] == [200] * 5  # probes: never limited
    assert rate_limited_operations(app.routes) == {("GET", "/verify")}
