"""Replicas racing on the real store (FerretDB on PostgreSQL in the fixtures), whose conditional updates are not
compare-and-set (ADR 0013): several ratings of one product handled at once leave exactly one valid certificate,
and a stale Idempotency-Key claim is taken over by exactly one request."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, timedelta

import pytest

from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.errors import Refused
from certification.adapters.idempotency import STALE

pytestmark = pytest.mark.integration
REPLICAS = 6


def decision(day: int) -> DecisionReference:
    return DecisionReference(number=f"{day}/QĐ-UBND", date=date(2026, 1, day), signer="Nguyễn Thị Ký",
                             authority="UBND tỉnh Bắc Giang")


async def test_ratings_of_one_product_handled_at_once_leave_one_valid_certificate(env, auth):
    rounds = 3
    results = {n: [await env.scored(env.result(f"r{n}-d{day}", product=f"Mật ong {n}", registration=f"24000000{n}",
                                               decision=decision(day)))
                   for day in range(1, REPLICAS + 1)] for n in range(rounds)}
    async with contextlib.AsyncExitStack() as stack:
        replicas = [await stack.enter_async_context(env.running()) for _ in range(REPLICAS)]
        handlers = [r.app.state.certification for r in replicas]
        for n in range(rounds):  # each rating on its own replica, all at the same moment
            await asyncio.gather(*(h.on_result_approved(e) for h, e in zip(handlers, results[n], strict=True)))
        staff = auth("sec", "secretariat")
        items = (await replicas[0].get("/certificates", params={"limit": 200}, headers=staff)).json()["items"]
        for n in range(rounds):
            mine = {i["dossier_id"]: i for i in items if i["dossier_id"].startswith(f"r{n}-")}
            valid = [d for d, i in mine.items() if i["status"] == "valid"]
            assert valid == [f"r{n}-d{REPLICAS}"], f"product {n}: valid certificates {valid}"
            # each other one superseded by a newer rating of the product (a chain at worst), never by an older one
            day_of = {i["number"]: int(d.rsplit("-d", 1)[1]) for d, i in mine.items()}
            for d, i in mine.items():
                if d != valid[0]:
                    assert i["status"] == "superseded" and day_of[i["superseded_by"]] > day_of[i["number"]], i
        # what the product's next certificate will say it replaces: the valid one
        current = {p["number"] async for p in env.db["products"].find({})}
        assert current == {i["number"] for i in items if i["status"] == "valid"}, current


class Held:
    def __init__(self) -> None:
        self.runs, self.may_end, self.started = 0, asyncio.Event(), asyncio.Event()

    async def __call__(self) -> tuple[int, dict]:
        self.runs += 1
        self.started.set()
        await self.may_end.wait()
        return 201, {"ran": True}


async def test_a_stale_idempotency_claim_is_taken_over_by_one_request(env):
    for n in range(5):
        key = f"ceremony-{n}"
        first = Held()
        task = asyncio.create_task(env.answers(key, "sec", "request-1", first))
        await first.started.wait()
        # the first holder died (its claim is older than STALE); the retries all come at once
        await env.db["idempotency_keys"].update_many({"_id": f"sec\x1f{key}"}, {"$set": {
            "claimed_at": (await env.db["idempotency_keys"].find_one({"_id": f"sec\x1f{key}"}))["claimed_at"]
            - STALE - timedelta(seconds=1)}})
        retries = [Held() for _ in range(REPLICAS)]
        for r in retries:
            r.may_end.set()
        answers = await asyncio.gather(*(env.answers(key, "sec", "request-1", r) for r in retries),
                                       return_exceptions=True)
        assert sum(r.runs for r in retries) == 1, f"round {n}: {sum(r.runs for r in retries)} requests ran"
        # the others are refused (in progress) or, once the winner has answered, given its answer
        assert all(isinstance(a, Refused) or (a.status_code, a.body) == (201, b'{"ran":true}') for a in answers)
        first.may_end.set()
        await task
