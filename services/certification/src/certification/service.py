"""Certification's handlers: issue on result.approved, revoke, expiry notices, ceremonies, look-ups."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from binhchon_kit.app import Runtime, record
from binhchon_kit.contracts.certification import CeremonyScheduled, CertificateIssued, CertificateSuperseded, Invitee
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
        key = certs.product_key(result["producer_name"], result["product_name"])
        previous = await self.rt.db["products"].find_one({"_id": key})
        number = await self._next_number(result["programme"], result["decision"]["authority"])
        body = certs.content(result, certificate_id=stream, number=number, issued_on=self.today(),
                             result_event_id=event.id, supersedes=previous["number"] if previous else None)
        issued = CertificateIssued.model_validate(
            {**body, "signature": self.signer.sign(body), "key_id": self.signer.kid})
        try:
            await self.rt.db["numbers"].insert_one({"_id": number, "stream": stream})
            recorded = await record(self.rt, stream, 0, issued, "certificate.issued", SYSTEM, Cause.of(event),
                                          event.subject, event_id=deterministic_id("issue", event.id))
        except (AlreadyRecorded, ConcurrencyConflict):
            return  # another replica issued it meanwhile; our number stays unused
        await self.rt.db["products"].replace_one(
            {"_id": key}, {"number": number, "stream": stream}, upsert=True)
        if previous:
            await self._supersede(previous["stream"], number, Cause.of(recorded))

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

    async def _next_number(self, programme: str, authority: str) -> str:
        code, year = certs.authority_code(authority), self.today().year
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
            state, events = await self.load(doc["number"])
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

    # ---- ceremonies ----------------------------------------------------------------------------------

    async def schedule_ceremony(self, round_id: str, title: str, on: date, at: time, place: str, actor: Actor,
                                cause: Cause) -> RecordedEvent:
        docs = await self.rt.db["certificates"].find({"round_id": round_id, "status": certs.VALID}).to_list()
        if not docs:
            raise Refused(f"round {round_id} has no valid certificate to hand over")
        invitees = [Invitee(certificate_number=d["number"], holder=d["holder"]["name"], product_name=d["product_name"],
                            dossier_id=d["dossier_id"]) for d in sorted(docs, key=lambda d: d["number"])]
        stream = "ceremony-" + str(uuid.uuid4())
        scheduled = CeremonyScheduled(ceremony_id=stream, round_id=round_id, title=title, on=on, at=at, place=place,
                                      invitees=invitees)
        return await record(self.rt, stream, 0, scheduled, "ceremony.scheduled", actor, cause, round_id)

    def verify_url(self, number: str) -> str:
        return f"{self.public_url}/verify/{number}"
