"""Certification's handlers: issue on result.approved, supersede, revoke, expiry notices, look-ups."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from binhchon_kit.app import Runtime, record
from binhchon_kit.contracts.certification import CertificateIssued, CertificateSuperseded
from binhchon_kit.events import Actor, Cause, RecordedEvent, deterministic_id
from binhchon_kit.eventstore import AlreadyRecorded, ConcurrencyConflict
from binhchon_kit.sequence import next_number
from binhchon_kit.signing import Signer
from certification.domain import certificates as certs
from certification.domain.errors import Refused

log = logging.getLogger("binhchon.certification")
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
SYSTEM = Actor.system("certification")


def today_in_vietnam() -> date:
    return datetime.now(VIETNAM).date()


def signed_document(issued: dict[str, Any]) -> dict[str, Any]:
    """The signed JSON of a certificate: its content, and the signature over the content's RFC 8785 form."""
    body = {k: v for k, v in issued.items() if k not in ("signature", "key_id")}
    return {"certificate": body, "signature": {"alg": "EdDSA", "kid": issued["key_id"], "value": issued["signature"]}}


class Certification:
    def __init__(self, runtime: Runtime, signer: Signer, public_url: str,
                 clock: Callable[[], date] = today_in_vietnam) -> None:
        self.rt = runtime
        self.store = runtime.store
        self.signer = signer
        self.public_url = public_url.rstrip("/")
        self.today = clock


    # ---- issuing -------------------------------------------------------------------------------------

    async def on_result_approved(self, event: RecordedEvent) -> None:
        result = event.data
        if not result["rating"]["recognised"]:
            return  # forwarded to the next level, not recognised here: no certificate at this level
        stream = certs.certificate_id_for(event.id)
        if await self.store.version(stream) > 0:
            return  # issued before: a redelivery or a replay
        decided_on = certs.decision_date(result)
        key = certs.product_key(result["programme"], result.get("producer_registration_number"),
                                result["product_name"])
        incumbent = await self.rt.db["products"].find_one({"_id": key}) if key else None
        incumbent_day = date.fromisoformat(incumbent["decided_on"]) if incumbent and "decided_on" in incumbent \
            else None
        replaces = incumbent is not None and certs.supersedes_incumbent(decided_on, incumbent_day)
        number = await self._next_number(result["programme"], result["decision"]["authority"], decided_on.year)
        body = certs.content(result, certificate_id=stream, number=number, issued_on=self.today(),
                             result_event_id=event.id, supersedes=incumbent["number"] if replaces else None)
        issued = CertificateIssued.model_validate(
            {**body, "signature": self.signer.sign(body), "key_id": self.signer.kid})
        try:
            await self.rt.db["numbers"].insert_one({"_id": number, "stream": stream})
            recorded = await record(self.rt, stream, 0, issued, "certificate.issued", SYSTEM, Cause.of(event),
                                          event.subject, event_id=deterministic_id("issue", event.id))
        except (AlreadyRecorded, ConcurrencyConflict):
            return  # another replica issued it meanwhile; our number stays unused
        if incumbent is not None and not replaces:
            # an older decision arriving after a newer one: it is born superseded, the newer one stays
            await self._supersede(stream, incumbent["number"], Cause.of(recorded))
        else:
            if key:
                await self.rt.db["products"].replace_one(
                    {"_id": key}, {"number": number, "stream": stream, "decided_on": decided_on.isoformat()},
                    upsert=True)
            if incumbent:
                await self._supersede(incumbent["stream"], number, Cause.of(recorded))
        # a certificate issued late for an old decision may already be due its expiry notices
        await self._give_notices(number, self.today())

    async def _supersede(self, stream: str, by: str, cause: Cause) -> None:
        events = await self.store.read_stream(stream)
        state = certs.replay(events)
        if state is None or state.superseded_by:
            return
        try:
            await record(self.rt, stream, state.version, CertificateSuperseded(number=state.issued["number"],
                                                                              superseded_by=by),
                               "certificate.superseded", SYSTEM, cause, state.issued["dossier_id"],
                               event_id=deterministic_id("superseded", stream, by), history=events)
        except (AlreadyRecorded, ConcurrencyConflict):
            pass

    async def _next_number(self, programme: str, authority: str, year: int) -> str:
        """Numbered in the decision's year, so a replay or a late consumer cannot move a number to another year."""
        code = certs.authority_code(authority)
        sequence = await next_number(self.rt.db, f"{programme}-{code}-{year}")
        return certs.number_for(programme, authority, year, sequence)

    # ---- look-ups ------------------------------------------------------------------------------------

    async def load(self, number: str) -> tuple[certs.Certificate, list[RecordedEvent]]:
        pointer = await self.rt.db["numbers"].find_one({"_id": number})
        events = await self.store.read_stream(pointer["stream"]) if pointer else []
        state = certs.replay(events)
        if state is None:
            raise Refused(f"no certificate number {number}", kind="not_found")
        return state, events

    # ---- lifecycle -----------------------------------------------------------------------------------

    async def revoke(self, number: str, reason: str, actor: Actor, cause: Cause) -> RecordedEvent:
        state, events = await self.load(number)
        return await record(self.rt, state.stream, state.version, certs.revoke(state, reason, self.today()),
                                  "certificate.revoked", actor, cause, state.issued["dossier_id"], history=events)

    async def send_expiry_notices(self) -> int:
        """Record the expiring/expired notices due today. Safe with several replicas: each notice's event id
        follows from the certificate and the notice, so only one replica's append succeeds."""
        today = self.today()
        horizon = (today + certs.EXPIRING_NOTICE).isoformat()
        candidates = await self.rt.db["certificates"].find(
            {"status": certs.VALID, "valid_until": {"$ne": None, "$lte": horizon}}).to_list()
        sent = 0
        for doc in candidates:
            sent += await self._give_notices(doc["number"], today)
        return sent

    async def _give_notices(self, number: str, today: date) -> int:
        state, events = await self.load(number)
        sent = 0
        for type_, notice in certs.notices_due(state, today):
            try:
                recorded = await record(self.rt,
                    state.stream, state.version, notice, type_, SYSTEM,
                    Cause(correlation_id=state.issued["result_event_id"], causation_id=f"clock:{today}"),
                    state.issued["dossier_id"], event_id=deterministic_id(type_, state.stream), history=events)
            except (AlreadyRecorded, ConcurrencyConflict):
                break  # another replica is at it
            events = [*events, recorded]
            state = certs.evolve(state, recorded)
            sent += 1
        return sent

    async def expiry_loop(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.send_expiry_notices()
            except Exception as exc:
                log.warning("expiry notices failed: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass

    def verify_url(self, number: str) -> str:
        return f"{self.public_url}/verify/{number}"
