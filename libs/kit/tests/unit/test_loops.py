"""The one background loop every service runs: a failing step does not stop the others or the loop, a wake
cuts the pause short, stop ends it; and the retry-until-done of the consumers' connection."""

from __future__ import annotations

import asyncio

from binhchon_kit.loops import every, until_done


async def test_a_failing_step_is_retried_next_pass_and_the_others_still_run() -> None:
    stop = asyncio.Event()
    passes: list[str] = []

    async def broken() -> None:
        passes.append("broken")
        raise ConnectionError("MongoDB unreachable")

    async def healthy() -> None:
        passes.append("healthy")
        if passes.count("healthy") == 3:
            stop.set()

    await asyncio.wait_for(every(0, stop, broken, healthy), timeout=5)
    assert passes == ["broken", "healthy"] * 3


async def test_a_wake_starts_the_next_pass_before_the_interval_is_over() -> None:
    stop, wake = asyncio.Event(), asyncio.Event()
    passes = 0

    async def step() -> None:
        nonlocal passes
        passes += 1
        if passes == 2:
            stop.set()

    loop = asyncio.create_task(every(3600, stop, step, wake=wake))
    await asyncio.sleep(0.05)
    assert passes == 1  # pausing for an hour
    wake.set()
    await asyncio.wait_for(loop, timeout=5)
    assert passes == 2


async def test_stop_ends_the_pause_at_once() -> None:
    stop = asyncio.Event()

    async def step() -> None:
        pass

    loop = asyncio.create_task(every(3600, stop, step))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(loop, timeout=5)


async def test_until_done_tries_again_until_the_attempt_succeeds() -> None:
    stop = asyncio.Event()
    tries = 0

    async def connect() -> None:
        nonlocal tries
        tries += 1
        if tries < 3:
            raise OSError("Kafka not reachable")

    assert await asyncio.wait_for(until_done(connect, stop, "connecting", first_delay=0.01), timeout=5)
    assert tries == 3


async def test_until_done_gives_up_when_the_service_stops() -> None:
    stop = asyncio.Event()

    async def never() -> None:
        stop.set()
        raise OSError("Kafka not reachable")

    assert not await asyncio.wait_for(until_done(never, stop, "connecting", first_delay=3600), timeout=5)
