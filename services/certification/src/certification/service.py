"""Certification's handlers: issue on result.approved, supersede, revoke, expiry notices, look-ups."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from binhchon_kit import key_range, reserved_numbers
from binhchon_kit.auth import Principal
from binhchon_kit.commands import record
from binhchon_kit.contracts.certification import CertificateIssued, CertificateSuperseded
from binhchon_kit.contracts.registry import type_of
from binhchon_kit.events import Actor, Cause, RecordedEvent, deterministic_id
from binhchon_kit.eventstore import AlreadyRecorded, ConcurrencyConflict
from binhchon_kit.folding import replay
from binhchon_kit.personal import ERASED
from binhchon_kit.personal_keys import CopiesOpener
from binhchon_kit.reserved_numbers import Reservation, held, release, reserve_held, settle
from binhchon_kit.runtime import Runtime
from binhchon_kit.sequence import claimed_by
from binhchon_kit.signing import Signer
from binhchon_kit.vietnam_time import VIETNAM, now_in_vietnam, today_in_vietnam
from certification.domain import certificates as certs
from certification.domain.errors import Refused
from certification.vc import status

log = logging.getLogger("binhchon.certification")
SYSTEM = Actor.system("certification")
# how long a certificate's number is held for it between its reservation and its record: an attempt that died
# in between gives its number to a later certificate once this has passed (ADR 0038, 0058 amended 2026-12-01)
NUMBER_LEASE = timedelta(minutes=2)


def _rank_of(product: dict[str, Any]) -> str:
    """A product's stored rank; one stored before ranks were kept ranks by its decision's date, after every
    rating of an earlier day and before any of a later one."""
    return str(product.get("rank") or f"{product['decided_on']}|~")


def signed_document(issued: dict[str, Any]) -> dict[str, Any]:
    """The signed JSON of a certificate: its content, and the signature over the content's RFC 8785 form."""
    body = {k: v for k, v in issued.items() if k not in ("signature", "key_id")}
    return {"certificate": body, "signature": {"alg": "EdDSA", "kid": issued["key_id"], "value": issued["signature"]}}


def instant_clock(clock: Callable[[], date] = today_in_vietnam,
                  now: Callable[[], datetime] | None = None) -> Callable[[], datetime]:
    """The service's instant in Vietnam (a ceremony today must not be at an hour gone by; its events' time): ``now``
    when injected; a caller that injects only a day gets the start of that day, never the machine's hour."""
    if now is not None:
        return now
    return now_in_vietnam if clock is today_in_vietnam else lambda: datetime.combine(clock(), time.min, VIETNAM)


class Certification:
    def __init__(self, runtime: Runtime, signer: Signer, public_url: str,
                 clock: Callable[[], date] = today_in_vietnam, now: Callable[[], datetime] | None = None,
                 shown: CopiesOpener | None = None) -> None:
        self.rt = runtime
        self.store = runtime.store
        self.signer = signer
        self.public_url = public_url.rstrip("/")
        self.today = clock
        self.now = instant_clock(clock, now)
        # a household's name and registration number, carried sealed (ADR 0048), opened where they are shown
        self.shown = shown or CopiesOpener(None)


    # ---- issuing -------------------------------------------------------------------------------------

    async def setup(self) -> None:
        await reserved_numbers.setup(self.rt.db)
        await self.rt.db["holders"].create_index([("product", 1), ("rank", 1)])
        # holders kept before their entries: once per deploy
        await key_range.fill_entries(self.rt.db[HOLDERS_BY_PRODUCT], self.rt.db["holders"],
                                     {"product": {"$type": "string"}}, lambda h: _holder_entry(h["product"], h["_id"]))

    @staticmethod
    def recognised(event: RecordedEvent) -> bool:
        """Whether a result is recognised at its level, the only ones a certificate is issued for: from the event
        alone, so the others are passed over without an inbox entry each (ADR 0053)."""
        return bool(event.data["rating"]["recognised"])

    async def on_result_approved(self, event: RecordedEvent) -> None:
        """Issue the result's certificate once, then do what follows from it. The follow-ups run on every
        delivery, from the recorded certificate: a crash after issuing is made good by the redelivery."""
        if not event.data["rating"]["recognised"]:
            return  # forwarded to the next level, not recognised here: no certificate at this level
        stream = certs.certificate_id_for(event.id)
        events = await self.store.read_stream(stream) or await self._issue(event, stream)
        state = replay(certs.evolve, events)
        assert state is not None
        await self._follow_up(event, state, Cause.of(events[0]))

    async def _issue(self, event: RecordedEvent, stream: str) -> list[RecordedEvent]:
        result = event.data
        decided_on = certs.decision_date(result)
        key = await self._product_key(result)
        rank = certs.rank(decided_on, event.time, event.id)
        # what the certificate says it replaces, as the product stands now (the atomic step comes after)
        incumbent = await self.rt.db["products"].find_one({"_id": key}) if key else None
        replaces = incumbent if incumbent is not None and _rank_of(incumbent) < rank else None
        scope, prefix = certs.numbering(result["programme"], result["decision"], decided_on.year)

        async def holds(claimed_for: str, number: int) -> bool:
            """Whether the certificate ``claimed_for`` was recorded with ``number`` of this scope."""
            first = await self.store.get(claimed_for, 1)
            return first is not None and first.data.get("number") == certs.number_for(prefix, number)

        # the number a reservation of an earlier attempt holds for this certificate (its handler died before the
        # record, or another replica is issuing it now): its own again, no second number drawn (ADR 0058)
        holder = await self.rt.db["holders"].find_one({"_id": stream},
                                                      projection={"reservation": 1, "claims_from": 1})
        reservation = await self._held_for(holder, scope)
        made = reservation is None
        if reservation is None:
            reservation = await reserve_held(self.rt.db, scope, claimed_for=stream, now=self.now,
                                             lease=NUMBER_LEASE, holds=holds)
        # the holder's identity before the certificate: whoever reads a recorded certificate (a ceremony's
        # invitees, the staff listing) finds its holder; the number follows once the certificate is recorded
        fields: dict[str, Any] = {"registration_number": result.get("producer_registration_number"),
                                  "product": key, "rank": rank}
        if made:
            fields["reservation"] = reservation.id
        await self._keep_holder(stream, fields)
        # numbered per issuing authority in the decision's year, so a replay or a late consumer cannot move a
        # number to another year
        number = certs.number_for(prefix, reservation.number)
        body = certs.content(result, certificate_id=stream, number=number, issued_on=self.today(),
                             result_event_id=event.id, supersedes=replaces["number"] if replaces else None)
        issued = CertificateIssued.model_validate(
            {**body, "signature": self.signer.sign(body), "key_id": self.signer.kid})
        try:
            await record(self.rt, stream, 0, issued, SYSTEM, Cause.of(event), event.subject,
                         event_id=deterministic_id("issue", event.id))
        except (AlreadyRecorded, ConcurrencyConflict):
            # another replica issued it meanwhile, and its certificate gets the follow-ups; had it another
            # number, ours goes to the next certificate of the scope: two replicas racing leave no hole
            if not await holds(stream, reservation.number):
                await release(self.rt.db, reservation)
                return await self.store.read_stream(stream)
        await settle(self.rt.db, reservation)
        return await self.store.read_stream(stream)

    async def _held_for(self, holder: dict[str, Any] | None, scope: str) -> Reservation | None:
        """The reservation an earlier attempt made for this certificate, while it is still its own with time left
        on its lease (else ``reserve`` takes it over or draws another); a holder of the code before reservations
        finds the number it claimed directly."""
        if holder is None:
            return None
        if holder.get("claims_from") and not holder.get("reservation"):
            number = await claimed_by(self.rt.db, scope, holder["_id"], int(holder["claims_from"]))
            return None if number is None else Reservation(f"claimed:{holder['_id']}", scope, number)
        if not isinstance(reservation_id := holder.get("reservation"), str):
            return None
        return await held(self.rt.db, reservation_id, scope=scope, now=self.now(), left=NUMBER_LEASE / 2)

    async def _follow_up(self, event: RecordedEvent, state: certs.Certificate, cause: Cause) -> None:
        """Everything that follows from an issued certificate, each step safe to run again."""
        result, number = event.data, state.issued["number"]
        # the number's pointer only once the certificate is recorded: a pointer never names a missing certificate
        try:
            await self.rt.db["numbers"].replace_one({"_id": number}, {"stream": state.stream}, upsert=True)
        except DuplicateKeyError:
            pass  # another replica's follow-up of this certificate wrote the same pointer a moment ago
        key = await self._product_key(result)
        rank = certs.rank(certs.decision_date(result), event.time, event.id)
        # the holder's identity stays here, outside the signed certificate (ADR 0010); one document per
        # (product, certificate), the same whoever writes it: the product's ratings as facts (ADR 0013)
        await self._keep_holder(state.stream, {"number": number, "product": key, "rank": rank,
                                               "registration_number": result.get("producer_registration_number")})
        # its place in the revocation lists, claimed once (ADR 0032): issue order, whoever exports it first
        await status.position(self.rt.db, state.stream)
        if key:
            await self._settle_product(key, cause)
        # a certificate issued late for an old decision may already be due its expiry notice
        await self._give_notices(number, self.today())

    async def _keep_holder(self, stream: str, fields: dict[str, Any]) -> None:
        """Set these fields of the certificate's holder document; every writer sets the same values, so racing
        replicas and a redelivery agree, and a late identity write never takes the number away. Its entry by product
        first: a holder a crash left without one would be one its product's settling never sees."""
        if fields.get("product"):
            await key_range.add_entry(self.rt.db[HOLDERS_BY_PRODUCT], _holder_entry(fields["product"], stream))
        try:
            await self.rt.db["holders"].update_one({"_id": stream}, {"$set": fields}, upsert=True)
        except DuplicateKeyError:
            await self.rt.db["holders"].update_one({"_id": stream}, {"$set": fields})  # inserted a moment ago

    async def _settle_product(self, key: str, cause: Cause) -> None:
        """Every certificate of the product but the top-ranked one is superseded by it. No conditional write
        decides it (FerretDB's are not compare-and-set, ADR 0013): each handler reads all the product's
        certificates after writing its own, so of two racing handlers the later reader sees both, and the
        supersessions (keyed by certificate and successor) are the same whoever records them."""
        products = self.rt.db["products"]
        seen: set[str] = set()
        while True:
            # a holder without a number is not recorded yet (or never will be): its own follow-up settles it
            holders = {h["_id"]: {"stream": h["_id"], "number": h["number"], "rank": h["rank"]}
                       for h in await self._holders_of(key) if h.get("number")}
            stored = await products.find_one({"_id": key})
            if stored is not None and stored["stream"] not in holders:  # stored before holders were kept
                holders[stored["stream"]] = {"stream": stored["stream"], "number": stored["number"],
                                             "rank": _rank_of(stored)}
            if set(holders) == seen:
                return
            seen = set(holders)
            current = max(holders.values(), key=lambda h: str(h["rank"]))
            # the product's current certificate, as a read model (what the next one says it replaces); read
            # again after writing, so a handler that missed a newer one writes last and sets it right
            try:
                await products.replace_one({"_id": key}, {**current, "decided_on": str(current["rank"])[:10]},
                                           upsert=True)
            except DuplicateKeyError:
                pass
            for other in holders.values():
                if other["stream"] != current["stream"]:
                    await self._supersede(other["stream"], current["number"], cause)

    async def _holders_of(self, key: str) -> list[dict[str, Any]]:
        """The product's holders, by their entries (an ``_id`` range, then each by ``_id``): FerretDB answered
        ``{product: key}`` by reading every holder ever kept, twice per certificate (issue 14)."""
        found = []
        for entry in await key_range.with_prefix(self.rt.db[HOLDERS_BY_PRODUCT], f"{key}|"):
            if entry.get("product") == key:  # not another product's whose key goes on past a "|"
                holder = await self.rt.db["holders"].find_one({"_id": entry["stream"]})
                if holder is not None and holder.get("product") == key:
                    found.append(holder)
        return found

    async def _product_key(self, result: dict[str, Any]) -> str | None:
        """A household's registration number is a sealed copy (ADR 0048): opened to find its product's earlier
        certificates (the key is a hash of it: certification keeps the copy, never the number); erased, it has
        none, as results from before numbers were carried."""
        number = (await self.shown({"producer_registration_number": result.get("producer_registration_number")})
                  )["producer_registration_number"]
        return certs.product_key(result["programme"], None if number == ERASED else number, result["product_name"])

    async def _supersede(self, stream: str, by: str, cause: Cause) -> None:
        events = await self.store.read_stream(stream)
        state = replay(certs.evolve, events)
        if state is None or state.superseded_by:
            return
        try:
            await record(self.rt, stream, state.version,
                         CertificateSuperseded(number=state.issued["number"], superseded_by=by), SYSTEM, cause,
                         state.issued["dossier_id"], event_id=deterministic_id("superseded", stream, by),
                         history=events)
        except (AlreadyRecorded, ConcurrencyConflict):
            pass

    # ---- look-ups ------------------------------------------------------------------------------------

    async def load(self, number: str) -> tuple[certs.Certificate, list[RecordedEvent]]:
        """The certificate of this number, only if its recorded certificate says this number: a pointer left
        by an attempt that never recorded (the code before ADR 0010 wrote it first) names another number's
        certificate, and must not make that one answer for a number it does not carry."""
        pointer = await self.rt.db["numbers"].find_one({"_id": number})
        if pointer is None:  # recorded, its follow-ups not yet run: the read model knows it
            pointer = await self.rt.db["certificates"].find_one({"number": number}, projection={"_id": 1})
        stream = (pointer.get("stream") or pointer["_id"]) if pointer else None
        events = await self.store.read_stream(stream) if stream else []
        state = replay(certs.evolve, events)
        if state is None or state.issued["number"] != number:
            raise Refused(f"no certificate number {number}", kind="not_found")
        return state, events

    # ---- lifecycle -----------------------------------------------------------------------------------

    async def revoke(self, number: str, reason: str, who: Principal, cause: Cause) -> RecordedEvent:
        """Only an approver acting for the certificate's issuing authority revokes it (ADR 0029)."""
        state, events = await self.load(number)
        if (refused := certs.revocation_refusal(state.issued, who.authorities)) is not None:
            raise refused
        actor = who.actor
        return await record(self.rt, state.stream, state.version, certs.revoke(state, reason, self.today()), actor,
                            cause, state.issued["dossier_id"], history=events)

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
        for notice in certs.notices_due(state, today):
            try:
                # the id derives from the notice's type name and the certificate: each notice given once
                recorded = await record(self.rt,
                    state.stream, state.version, notice, SYSTEM,
                    Cause(correlation_id=state.issued["result_event_id"], causation_id=f"clock:{today}"),
                    state.issued["dossier_id"], event_id=deterministic_id(type_of(type(notice)), state.stream),
                    history=events)
            except (AlreadyRecorded, ConcurrencyConflict):
                break  # another replica is at it
            events = [*events, recorded]
            state = certs.evolve(state, recorded)
            sent += 1
        return sent

    def verify_url(self, number: str) -> str:
        return f"{self.public_url}/verify/{number}"


HOLDERS_BY_PRODUCT = "holders_by_product"  # ``<product>|<certificate stream>``: a product's holders by an _id range


def _holder_entry(product: str, stream: str) -> dict[str, Any]:
    return {"_id": f"{product}|{stream}", "product": product, "stream": stream}
