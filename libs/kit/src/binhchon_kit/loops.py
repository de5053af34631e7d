"""Background loops: a step repeated until the service stops, and the waits between steps.

Every loop of the services (projector, relay, notify's deliveries and waiting events, certification's expiry
notices) has the same shape: do a pass, log a failure without dying (the next pass retries), then sleep until
the interval is over, something wakes the loop early, or the service stops — whichever comes first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from binhchon_kit.runtime import Runtime

log = logging.getLogger("binhchon.loops")

Step = Callable[[], Awaitable[object]]


async def pause(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> bool:
    """Sleep ``seconds``, cut short when ``stop`` (or ``wake``) is set. True when the loop must stop."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return stop.is_set()


async def every(interval: float, stop: asyncio.Event, *steps: Step, wake: asyncio.Event | None = None) -> None:
    """Run ``steps`` in order, then pause ``interval`` seconds (or until ``wake``), until ``stop`` is set.

    A step that fails is logged and tried again on the next pass; the steps after it still run, so one broken
    dependency does not stop the others. ``wake`` is cleared before each pass: whatever sets it during the pass
    asks for the next one at once."""
    while not stop.is_set():
        if wake is not None:
            wake.clear()
        for step in steps:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s failed (next pass in %.0fs): %s", _name(step), interval, exc)
        await pause(stop, interval, wake)


async def until_done(attempt: Step, stop: asyncio.Event, what: str, *, first_delay: float = 1.0,
                     max_delay: float = 15.0) -> bool:
    """Try ``attempt`` until it returns without raising, doubling the pause after each failure (up to
    ``max_delay``). False when ``stop`` came first."""
    delay = first_delay
    while not stop.is_set():
        try:
            await attempt()
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s failed (%s), retrying in %.0fs", what, exc, delay)
        if await pause(stop, delay):
            break
        delay = min(delay * 2, max_delay)
    return False


def _name(step: Step) -> str:
    return getattr(step, "__qualname__", None) or repr(step)


# ---- the loops every service runs ------------------------------------------------------------------------

PROJECTOR_INTERVAL = 2.0


def start_background(runtime: Runtime) -> None:
    """The kit's own loops: the projector catching read models up, the gauges ops watch, the relay, the consumers'
    connection."""
    runtime.stop.clear()
    runtime.spawn("projector", every(PROJECTOR_INTERVAL, runtime.stop, runtime.projections.catch_up))
    if runtime.gauges is not None:
        runtime.spawn("gauges", runtime.gauges.run(runtime.stop))
    if runtime.settings.relay_enabled:
        runtime.spawn("relay", runtime.relay.run(runtime.stop))
        if runtime.checkpoints is not None:
            runtime.spawn("checkpoints", every(runtime.settings.log_checkpoint_seconds, runtime.stop,
                                               runtime.checkpoints.record_if_grown))
    if runtime.settings.consumers_enabled:
        # HTTP commands go on while Kafka is unreachable; consumers join when it is back
        runtime.spawn("broker", until_done(runtime.connect_consumers, runtime.stop, "connecting Kafka consumers"))


async def stop_background(runtime: Runtime, timeout: float = 10) -> None:
    """Stop every loop (the kit's and the service's), then the consumers."""
    runtime.stop.set()
    for task in runtime.tasks:
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=timeout)
    runtime.tasks.clear()
    with contextlib.suppress(Exception):
        await runtime.broker.stop()
    runtime.broker_ready = False
