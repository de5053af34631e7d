"""An Idempotency-Key claim taken over from a slow request stays the new holder's: the slow one can neither
release it (when it fails) nor overwrite its answer (when it ends). Against the real server."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from binhchon_kit.errors import Refused
from certification.adapters.idempotency import STALE

pytestmark = pytest.mark.integration
CLAIM = "sec\x1fceremony-k"


class Held:
    """A command that runs until the test lets it end, with the answer (or the error) given then."""

    def __init__(self, answer: dict | None = None) -> None:
        self.started, self.may_end, self.answer, self.runs = asyncio.Event(), asyncio.Event(), answer, 0

    async def __call__(self) -> tuple[int, dict]:
        self.runs += 1
        self.started.set()
        await self.may_end.wait()
        if self.answer is None:
            raise Refused("round-1 has no valid certificate to hand over")
        return 201, self.answer


async def run(env, command: Held) -> asyncio.Task:
    task = asyncio.create_task(env.answers("ceremony-k", "sec", "request-1", command))
    await command.started.wait()
    return task


async def outlive_stale(env) -> None:
    """The claim's holder has been at it for longer than STALE, by the clock that wrote the claim."""
    held = await env.db["idempotency_keys"].find_one({"_id": CLAIM})
    await env.db["idempotency_keys"].update_one({"_id": CLAIM}, {"$set": {
        "claimed_at": held["claimed_at"] - STALE - timedelta(seconds=1)}})


async def test_a_slow_request_that_fails_does_not_release_the_claim_taken_over_from_it(env):
    slow, taker = Held(), Held({"ceremony_id": "ceremony-b"})
    slow_task = await run(env, slow)
    await outlive_stale(env)
    taker_task = await run(env, taker)  # takes the stale claim over and is running
    slow.may_end.set()
    with pytest.raises(Refused):
        await slow_task  # the slow one is refused at last
    third = Held({"ceremony_id": "ceremony-c"})
    third.may_end.set()
    with pytest.raises(Refused) as refused:
        await env.answers("ceremony-k", "sec", "request-1", third)
    assert "in progress" in refused.value.message and third.runs == 0  # the claim is still the taker's
    taker.may_end.set()
    assert (await taker_task).status_code == 201
    again = await env.answers("ceremony-k", "sec", "request-1", third)
    assert again.body == b'{"ceremony_id":"ceremony-b"}' and third.runs == 0


async def test_a_slow_request_that_ends_late_does_not_overwrite_the_new_holders_answer(env):
    slow, taker = Held({"ceremony_id": "ceremony-a"}), Held({"ceremony_id": "ceremony-b"})
    slow_task = await run(env, slow)
    await outlive_stale(env)
    taker_task = await run(env, taker)
    taker.may_end.set()
    assert (await taker_task).body == b'{"ceremony_id":"ceremony-b"}'
    slow.may_end.set()
    assert (await slow_task).body == b'{"ceremony_id":"ceremony-a"}'  # its caller is told what it did
    retry = Held({"ceremony_id": "ceremony-c"})
    answer = await env.answers("ceremony-k", "sec", "request-1", retry)
    assert answer.body == b'{"ceremony_id":"ceremony-b"}' and retry.runs == 0
