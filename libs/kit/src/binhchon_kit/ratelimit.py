"""A per-client token bucket for the public surface (issue 13: 300 receipt guesses in 6 s went unthrottled).

Each client (its address as the server sees it; behind a proxy, uvicorn's ``--proxy-headers`` makes that the
caller's) may make ``per_minute`` requests a minute to the public routes, in bursts of up to ``burst``. Past that
the answer is 429 in the services' error shape, with ``Retry-After``. The buckets live in the process: each replica
counts its own, which bounds a client to replicas × the rate, enough to stop guessing. At most ``max_clients``
buckets are kept (the least recently seen go first), so a flood of addresses cannot grow memory without bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.routing import iter_route_contexts


class RateLimiter:
    def __init__(self, per_minute: int, burst: int | None = None, *, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10_000) -> None:
        self.rate = per_minute / 60.0  # tokens a second
        self.burst = float(burst if burst is not None else max(1, per_minute // 2))
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client → (tokens, when)

    def take(self, client: str) -> float:
        """Spend one token of ``client``'s bucket: 0 when allowed, else the seconds until one is back."""
        if self.rate <= 0:
            return 0.0  # no limit configured
        now = self.clock()
        tokens, then = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[client] = (tokens - 1 if wait == 0 else tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


async def _limited(request: Request) -> None:
    limiter: RateLimiter | None = getattr(request.app.state, "public_limiter", None)
    if limiter is None:
        return
    client = request.client.host if request.client else "unknown"
    wait = limiter.take(client)
    if wait > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many requests from this address: slow down",
                            headers={"Retry-After": str(math.ceil(wait))})


RATE_LIMITED = Depends(_limited)


def rate_limited_operations(routes: Sequence[Any]) -> set[tuple[str, str]]:
    """(METHOD, path) of every route that is rate-limited: the OpenAPI document declares their 429."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(routes):
        dependant = getattr(route, "dependant", None)
        if dependant is not None and _uses_limit(dependant):
            found |= {(method, str(route.path_format)) for method in route.methods or ()}
    return found


def _uses_limit(dependant: Any) -> bool:
    return any(sub.call is _limited or _uses_limit(sub) for sub in dependant.dependencies)
