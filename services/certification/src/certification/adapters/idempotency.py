"""``Idempotency-Key`` on POSTs: a client that retries (a timeout, a double click) with the same key gets the
first answer again instead of a second effect; the same key with another request is refused.

Keys are scoped to the caller (two users' keys never meet). A key is claimed by inserting its document (the
unique ``_id`` decides between two concurrent requests), the command runs, and its answer is stored on the
claim. A claim left unanswered by a crash is taken over after ``STALE``; a command that is refused releases
its key so that a corrected retry is not stuck with the refusal. Taking over and claiming a released key insert
the claim's next generation (binhchon_kit.claims, ADR 0013): a conditional update would let several requests
win on FerretDB.

Each claim carries its owner (a token of the request that holds it). Releasing the key and storing the answer
are both written to that owner's generation only: a slow request whose claim was taken over can no longer delete the new
holder's claim, nor overwrite its answer.

An answer is kept as the command gave it, a household's name and number sealed as the events carry them (ADR 0048),
and shown at each answering, the first and every replay, through the service's ``shown`` (its ``CopiesOpener``), as
its GET routes show them: opened, or ``[đã xoá]`` once erased, even if erased after the answer was kept. The
collection never holds them in clear. Claims are dated by the service's clock.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from pymongo.asynchronous.database import AsyncDatabase

from binhchon_kit import claims
from binhchon_kit.canonical import canonical_json
from binhchon_kit.claims import aware
from certification.domain.errors import Refused

STALE = timedelta(seconds=60)
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
    description="a client-chosen key (printable ASCII): retrying with it gives the first answer, never a second "
                "effect")]
Command = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]
# an answer's body as the caller reads it: the service's sealed copies opened, or erased (ADR 0048)
Shown = Callable[[Any], Awaitable[Any]]


def fingerprint(method: str, path: str, body: Any) -> str:
    return hashlib.sha256(canonical_json({"method": method, "path": path, "body": body})).hexdigest()


@dataclass(frozen=True)
class Answers:
    """How the service answers a command that may come with an ``Idempotency-Key``: its store, its clock (Vietnam's
    instant, the one its events are stamped with) and ``shown``. Built once in the composition root."""

    db: AsyncDatabase[dict[str, Any]]
    now: Callable[[], datetime]
    shown: Shown

    async def __call__(self, key: str | None, caller: str, request: str, command: Command) -> JSONResponse:
        """Run ``command`` (giving status and body) at most once per (caller, key); ``request`` is its fingerprint.
        Every answer, kept or new, is shown through ``shown``."""
        status, body = await self._answer(key, caller, request, command)
        return JSONResponse(await self.shown(body), status_code=status)

    async def _answer(self, key: str | None, caller: str, request: str, command: Command
                      ) -> tuple[int, dict[str, Any]]:
        if key is None:
            return await command()
        keys = self.db["idempotency_keys"]
        base = f"{caller}\x1f{key}"
        now = self.now()
        owner = uuid.uuid4().hex
        fields = {"request": request, "claimed_at": now, "owner": owner, "answer": None}

        def free(held: dict[str, Any]) -> bool:  # released by a refused attempt, or left by a crash
            return bool(held.get("released")) or (held["answer"] is None and aware(held["claimed_at"]) <= now - STALE)

        claim = await claims.take(keys, base, fields, free)
        if claim is None:
            held = await claims.newest(keys, base)
            if held is None or free(held):  # moved on a moment ago
                raise Refused("a request with this Idempotency-Key is still in progress", field="Idempotency-Key")
            if held["request"] != request:
                raise Refused("this Idempotency-Key was used for another request", kind="invalid",
                              field="Idempotency-Key")
            if held["answer"] is not None:
                return held["answer"]["status"], held["answer"]["body"]
            raise Refused("a request with this Idempotency-Key is still in progress", field="Idempotency-Key")
        try:
            status, body = await command()
        except BaseException:
            await keys.update_one({"_id": claim["_id"], "owner": owner, "answer": None}, {"$set": {"released": True}})
            raise
        # taken over meanwhile (this request was slow past STALE): the new holder's answer stands; ours is still
        # the truth about what this request did, so the caller gets it. Kept before it is shown: intake not
        # answering for the keys (a 503) leaves the answer kept, and a retry shows it.
        await keys.update_one({"_id": claim["_id"], "owner": owner},
                              {"$set": {"answer": {"status": status, "body": body}}})
        return status, body
