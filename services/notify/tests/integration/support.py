"""What notify's integration tests share: the one clock a test and every service instance in it read, and a way
to put other services' events on the real topics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from binhchon_kit.contracts.registry import EventData
from binhchon_kit.events import Actor, Cause, NewEvent
from binhchon_kit.eventstore import EventStore
from binhchon_kit.relay import Relay
from binhchon_kit.testing.clock import Clock  # noqa: F401  (the notify tests' clock)
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.trust import dev_log_signer

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def vietnam_time(day: date, hour: int, minute: int = 0) -> datetime:
    """An instant given as Vietnam's wall clock (``08:00`` on ``day`` in Hà Nội), in UTC."""
    return datetime.combine(day, time(hour, minute), VIETNAM).astimezone(UTC)


async def publish(mongo: Any, infra: Any, prefix: str, unique: str, source: str,
                  events: list[tuple[str, EventData]], clock: Callable[[], datetime] | None = None) -> None:
    """Record events in a scratch store of the service that owns them and relay them to the real topics; stamped
    by ``clock`` (the test's, shared with the services it starts), else the machine's."""
    store = EventStore(mongo[f"{source}_{unique}"], source=f"/binhchon/{source}", clock=clock)
    await store.setup()
    for stream, data in events:
        await store.append(stream, await store.version(stream), NewEvent(data), subject=stream,
                           actor=Actor("someone"), cause=Cause("c", "c"))
    # signed with that service's development log key, the one notify trusts in these tests (ADR 0026)
    relay = Relay(store, infra.kafka, client_id=f"{source}-relay", topic_prefix=prefix, signer=dev_log_signer(source))
    await relay.publish_pending()
    await relay._drop_producer()


@contextlib.asynccontextmanager
async def posts_served(port: int, hook: Callable[[Request], Awaitable[Response]]) -> AsyncIterator[None]:
    """A real HTTP server on 127.0.0.1:``port`` answering every POST with ``hook``: an agency's webhook receiver."""
    app = Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())

    async def started() -> bool | None:
        return server.started or None

    await eventually(started, what="the receiver")
    try:
        yield
    finally:
        server.should_exit = True
        await task
