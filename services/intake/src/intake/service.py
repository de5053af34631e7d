"""Intake's command and query handlers: load state from the event store, let the domain decide, append the
event, refresh the read model. The HTTP routes and the Kafka handlers both call these."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from pymongo.errors import DuplicateKeyError

from binhchon_kit import reserved_numbers
from binhchon_kit.commands import record
from binhchon_kit.contracts.common import Document, Level, Producer, Product
from binhchon_kit.contracts.intake import (
    SEALED_FIELDS,
    EscalatedFrom,
    PersonalDataErased,
    RoundArea,
    RoundOpened,
)
from binhchon_kit.contracts.registry import EventData
from binhchon_kit.contracts.samples import RoundClosed
from binhchon_kit.events import Actor, Cause, RecordedEvent, deterministic_id
from binhchon_kit.eventstore import AlreadyRecorded, ConcurrencyConflict
from binhchon_kit.folding import replay
from binhchon_kit.personal import ERASED, fields_to_seal, is_individual, is_sealed, open_fields, seal_fields
from binhchon_kit.personal_keys import COLLECTION, SubjectKeys, master_key_from_settings
from binhchon_kit.reserved_numbers import Reservation, release, reserve_held, settle
from binhchon_kit.runtime import Runtime
from binhchon_kit.vietnam_time import day_in_vietnam, now_utc
from intake import views
from intake.adapters.documents import Documents
from intake.domain import bindings, dossiers, rounds
from intake.domain.errors import Refused

Clock = Callable[[], datetime]


class SelectionCodes(Protocol):
    """The round's selection-code registry (intake.sample_custody, ADR 0046)."""

    async def claim_code(self, round_id: str, code: str | None, dossier_id: str, receipt_number: str) -> str:
        """The code the dossier is accepted with: ``code``, or one drawn when it is None."""

    async def release_code(self, round_id: str, code: str, dossier_id: str) -> None:
        """Give back a code the dossier claimed and was not accepted with."""

BINDING_ID = re.compile(r"^binding-[0-9a-f-]{36}$")


def _files_for_producers(actor: Actor) -> bool:
    """An applicant files as an account bound to producers; the secretariat at the counter and intake itself
    (escalation) file for the producer directly (ADR 0037)."""
    return "applicant" in actor.roles and not {"secretariat", "admin", "system"} & set(actor.roles)


# how long a submission holds the receipt number it claimed before storing its dossier (milliseconds, normally):
# past that, and its dossier not stored with it, the number goes to the next submission
RECEIPT_LEASE = timedelta(minutes=2)
DOCUMENT_MAX_BYTES = 20 * 1024 * 1024
UNFINISHED_UPLOAD_AGE = timedelta(hours=1)
BINDING_SEALED = ("registration_number", "producer_name")  # in a household's binding events (ADR 0048)


def receipt_number(round_: RoundOpened, number: int) -> str:
    return f"{round_.code}-{number:05d}"


class Intake:
    """``clock``: the instant now (timezone-aware). Receipts are stamped with it and "today" is its date in
    Vietnam, whatever the machine's time zone; tests inject a fixed instant."""

    def __init__(self, runtime: Runtime, clock: Clock = now_utc, keys: SubjectKeys | None = None,
                 document_max_bytes: int = DOCUMENT_MAX_BYTES) -> None:
        self.rt = runtime
        self.store = runtime.store
        self.clock = clock
        # the data subjects' keys (ADR 0035): main.build passes the one wrapped by the configured master key
        self.keys = keys or SubjectKeys(runtime.db[COLLECTION], master_key_from_settings(""))
        self._rounds: dict[str, RoundOpened] = {}
        self._closed_rounds: set[str] = set()
        self.documents = Documents(runtime.db)  # uploaded files, by their SHA-256 (ADR 0045)
        self.document_max_bytes = document_max_bytes

    def now(self) -> datetime:
        """Now, to the millisecond (MongoDB keeps milliseconds; the event's hash must survive a round trip)."""
        now = self.clock().astimezone(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def today(self) -> date:
        return day_in_vietnam(self.clock())

    async def setup(self) -> None:
        db = self.rt.db
        await db["dossiers"].create_index("receipt_number", unique=True)
        await db["dossiers"].create_index([("round_id", 1), ("status", 1)])
        await db["dossiers"].create_index([("province_code", 1), ("district_code", 1)])
        await db["dossiers"].create_index([("product_identity", 1)])
        await db["bindings"].create_index([("registration_number", 1), ("status", 1)])
        await db["bindings"].create_index([("producer_ref", 1), ("status", 1)])
        await self.keys.setup()
        await self.documents.setup()
        await reserved_numbers.setup(db)
        # an upload that died between its chunks and its entry left chunks nothing names; another replica's upload
        # may be writing its own right now, hence the hour's margin
        await self.documents.forget_unfinished(before=self.now() - UNFINISHED_UPLOAD_AGE)


    # ---- rounds ----------------------------------------------------------------------------------------

    async def load_round(self, round_id: str) -> RoundOpened:
        # A round is what round.opened said, and nothing amends it: safe to keep once read.
        if (cached := self._rounds.get(round_id)) is not None:
            return cached
        first = await self.store.get(round_id, 1) if round_id.startswith("round-") else None
        if first is None:
            raise Refused(f"no round {round_id}", kind="not_found")
        self._rounds[round_id] = opened = RoundOpened.model_validate(first.data)
        return opened

    async def round_closed(self, round_id: str) -> bool:
        """Whether ``round.closed`` follows the round's ``round.opened`` (ADR 0046); closed for good, so kept once
        seen."""
        if round_id in self._closed_rounds:
            return True
        second = await self.store.get(round_id, 2)
        if second is not None and isinstance(second.model(), RoundClosed):
            self._closed_rounds.add(round_id)
            return True
        return False

    async def open_round(self, fields: dict[str, Any], actor: Actor, cause: Cause) -> RecordedEvent:
        fields = {**fields, "code": str(fields["code"]).upper()}  # receipt numbers are looked up upper-case
        round_id = rounds.round_id_for(fields["code"])
        parent = await self.load_round(fields["parent_round_id"]) if fields.get("parent_round_id") else None
        level, area = Level(fields["level"]), RoundArea.model_validate(fields.get("area") or {})
        authority = rounds.approving_authority(level, area, fields.pop("approving_authority", None)
                                               or fields["organiser"])
        if authority is None:  # the area does not say whose round it is
            raise Refused("the round cannot be opened as given", kind="invalid",
                          problems=rounds.area_problems(level, area))
        opened = RoundOpened.model_validate({**fields, "round_id": round_id, "approving_authority": authority})
        exists = await self.store.version(round_id) > 0
        decided = rounds.open_round(opened, exists, today=self.today(), parent=parent)
        try:
            return await record(self.rt, round_id, 0, decided, actor, cause, subject=round_id)
        except ConcurrencyConflict:
            raise Refused(f"a round with code {opened.code} is already open", round_id=round_id) from None

    # ---- dossiers --------------------------------------------------------------------------------------

    async def _reserve_receipt_number(self, round_: RoundOpened, dossier_id: str) -> Reservation:
        """A receipt number with no holes (docs/adr/0038): one a submission claimed and then never stored (it
        died between, or was refused as a duplicate) goes to the next submission."""
        async def holds(claimed_for: str, number: int) -> bool:
            first = await self.store.get(claimed_for, 1)
            return first is not None and first.data.get("receipt_number") == receipt_number(round_, number)

        return await reserve_held(self.rt.db, f"receipt:{round_.round_id}", claimed_for=dossier_id, now=self.now,
                                  lease=RECEIPT_LEASE, holds=holds)

    async def submit(
        self, round_id: str, producer: Producer | dict[str, Any], product: Product, documents: list[Document],
        actor: Actor, cause: Cause, escalated_from: EscalatedFrom | None = None, event_id: str | None = None,
    ) -> RecordedEvent:
        """``producer``: as the applicant gave it, or (escalation) as an earlier dossier.received opens."""
        clear = producer.model_dump(mode="json") if isinstance(producer, Producer) else producer
        round_ = await self.load_round(round_id)
        registration = clear["registration_number"]
        if escalated_from is None:  # an escalation takes a lower level's dossier as it was received
            dossiers.kind_fits_number(clear.get("kind"), registration)
        dossier_id = dossiers.dossier_id_for(round_id, registration, product.name)
        binding = None
        if _files_for_producers(actor):
            binding = await self.load_binding(bindings.binding_id_for(actor.id, registration))
            if binding is not None and binding.status is bindings.Status.REFUSED:
                raise Refused("this account may not file for this producer: the secretariat refused it",
                              kind="forbidden")
            own = dossiers.unverified_dossier_id_for(round_id, registration, product.name, actor.id)
            if binding is None or binding.status is not bindings.Status.VERIFIED:
                dossier_id = own  # blocks no one until the secretariat verifies the account (ADR 0037)
            elif await self.store.version(own) > 0:
                raise self._duplicate(round_)  # filed before the account was verified
        if await self.store.version(dossier_id) > 0:
            raise self._duplicate(round_)
        if escalated_from is None and await self.round_closed(round_id):
            # an escalation is a lower level's fact and is still received
            raise Refused(f"round {round_.code} is closed: it takes no more dossiers", current_status="closed")
        # the personal fields sealed with the producer's key, bound to this event's id (ADR 0035)
        event_id = event_id or str(uuid.uuid4())
        # an escalation's producer was verified by its level's acceptance; a filing's kind is only declared
        sealed = await self._sealed_producer(clear, event_id, verified_organisation=escalated_from is not None)
        # Validate everything before a receipt number is taken, so a refusal leaves no gap in the numbering.
        now = self.now()
        today = day_in_vietnam(now)
        identity = dossiers.dossier_id_for(round_id, registration, product.name)
        dossiers.receive(round_, dossier_id=dossier_id, receipt_number="-", received_at=now, today=today,
                         producer=sealed, product=product, documents=documents, escalated_from=escalated_from,
                         product_identity=identity)
        reservation = await self._reserve_receipt_number(round_, dossier_id)
        received = dossiers.receive(
            round_, dossier_id=dossier_id, receipt_number=receipt_number(round_, reservation.number),
            received_at=now, today=today, producer=sealed, product=product, documents=documents,
            escalated_from=escalated_from, product_identity=identity)
        try:
            recorded = await record(self.rt, dossier_id, 0, received, actor, cause, dossier_id, event_id)
        except (ConcurrencyConflict, AlreadyRecorded) as exc:
            await release(self.rt.db, reservation)  # not stored: the number goes to the next submission
            if isinstance(exc, AlreadyRecorded):
                raise
            raise self._duplicate(round_) from None
        await settle(self.rt.db, reservation)
        if _files_for_producers(actor) and binding is None:
            await self._request_binding(actor, clear, dossier_id, Cause.of(recorded),
                                        is_sealed(sealed["registration_number"]))
        return recorded

    async def check_documents(self, documents: list[Document]) -> None:
        """Each listed document names stored content of its size (ADR 0045). Only commands check: replaying the
        events of an older dossier, or escalating one, takes its list as it was recorded."""
        problems = []
        found = await self.documents.find_many([document.sha256 for document in documents])
        for i, document in enumerate(documents):
            stored = found.get(document.sha256)
            if stored is None:
                problems.append({"field": f"documents[{i}].sha256",
                                 "reason": "no document with this SHA-256 is stored: upload it first"})
            elif stored.size_bytes != document.size_bytes:
                problems.append({"field": f"documents[{i}].size_bytes",
                                 "reason": f"the stored document with this SHA-256 has {stored.size_bytes} bytes"})
        if problems:
            raise Refused("; ".join(f"{p['field']}: {p['reason']}" for p in problems), kind="invalid",
                          field=problems[0]["field"], problems=problems)

    async def _sealed_producer(self, producer: dict[str, Any], event_id: str, *, verified_organisation: bool
                               ) -> dict[str, Any]:
        kid, key = await self.keys.for_subject(data_subject(producer["registration_number"]))
        # the name and registration number too, unless a verified organisation's (ADR 0048, fourth amendment)
        paths = fields_to_seal(producer.get("kind"), SEALED_FIELDS, verified_organisation=verified_organisation)
        sealed: dict[str, Any] = seal_fields({"producer": producer}, paths, key, kid, event_id=event_id)
        return sealed["producer"]  # type: ignore[no-any-return]

    async def opened(self, event: RecordedEvent) -> dict[str, Any]:
        """``event``'s data with its personal fields opened, or reading ``[đã xoá]`` once erased (ADR 0035)."""
        return await open_fields(event.data, event.id, self.keys.key)

    async def registration_number(self, state: dossiers.Dossier) -> str | None:
        """The dossier's producer's registration number, opened when sealed (a household's, ADR 0048); None once
        erased."""
        number = state.received["producer"]["registration_number"]
        if is_sealed(number):
            opened = await open_fields({"producer": {"registration_number": number}}, state.received_event_id,
                                       self.keys.key)
            number = opened["producer"]["registration_number"]
        return None if number == ERASED else str(number)

    async def erase_producer(self, registration_number: str, actor: Actor, cause: Cause) -> RecordedEvent:
        """Crypto-shred a producer's personal data (ADR 0035): record which keys go and which dossiers they sealed
        fields of, then delete the keys. A retry after a failure in between finds the same keys, the same event
        (its id derived from them) already recorded, and deletes them."""
        subject = data_subject(registration_number)
        kids = await self.keys.kids(subject)
        if not kids:
            raise Refused("no personal data is kept for this producer", kind="not_found")
        sealed_by = {"producer.contact.phone.kid": {"$in": kids}}  # every v2 dossier seals the phone
        dossier_ids = sorted([d["_id"] async for d in self.rt.db["dossiers"].find(sealed_by, {"_id": 1})])
        event_id = deterministic_id("erasure", *kids)
        stream = f"erasure-{event_id}"
        erased = PersonalDataErased(kids=kids, dossier_ids=dossier_ids)
        try:
            recorded = await record(self.rt, stream, 0, erased, actor, cause, subject=stream, event_id=event_id)
        except (AlreadyRecorded, ConcurrencyConflict):
            found = await self.store.get(stream, 1)
            assert found is not None
            recorded = found
        await self.keys.forget(kids)
        return recorded

    @staticmethod
    def _duplicate(round_: RoundOpened) -> Refused:
        # names no dossier: the one met may be another account's (ADR 0037)
        return Refused(f"this producer already has a dossier for this product in round {round_.code}",
                       reason="duplicate")

    # ---- producer bindings (ADR 0037) ---------------------------------------------------------------------

    async def load_binding(self, binding_id: str) -> bindings.Binding | None:
        events = await self.store.read_stream(binding_id) if BINDING_ID.match(binding_id) else []
        return replay(bindings.evolve, events)

    async def _binding(self, binding_id: str) -> bindings.Binding:
        if (binding := await self.load_binding(binding_id)) is None:
            raise Refused(f"no binding {binding_id}", kind="not_found")
        return binding

    async def _request_binding(self, actor: Actor, producer: dict[str, Any], dossier_id: str, cause: Cause,
                               individual: bool) -> None:
        binding_id = bindings.binding_id_for(actor.id, producer["registration_number"])
        asked = bindings.request(await self.load_binding(binding_id), applicant_id=actor.id,
                                 registration_number=producer["registration_number"], producer_name=producer["name"],
                                 dossier_id=dossier_id)
        if asked is None:
            return
        with contextlib.suppress(ConcurrencyConflict):  # another filing of the account asked at the same time
            await self._record_binding(binding_id, 0, asked, actor, cause, individual)

    async def _record_binding(self, binding_id: str, version: int, event: EventData, actor: Actor, cause: Cause,
                              individual: bool) -> RecordedEvent:
        """A binding event, an individual producer's registration number and name sealed in it with the
        producer's key (ADR 0048)."""
        event_id = str(uuid.uuid4())
        if individual:
            data = event.model_dump(mode="json")
            kid, key = await self.keys.for_subject(data_subject(data["registration_number"]))
            event = type(event).model_validate(seal_fields(data, BINDING_SEALED, key, kid, event_id=event_id))
        # the read model folds the whole stream: without the earlier events it would lose the requested name
        history = [e for e in await self.store.read_stream(binding_id) if e.version <= version] if version else []
        return await record(self.rt, binding_id, version, event, actor, cause, binding_id, event_id=event_id,
                            history=history)

    async def binding_number(self, binding: bindings.Binding) -> str:
        """The binding's registration number, opened where it is sealed; refused once the producer is erased."""
        if not binding.sealed:
            return str(binding.registration_number)
        opened = await open_fields({"registration_number": binding.registration_number}, binding.first_event_id,
                                   self.keys.key)
        if opened["registration_number"] == ERASED:
            raise Refused("the producer's personal data was erased: this binding can no longer change", kind="gone")
        return str(opened["registration_number"])

    async def register_binding(self, applicant_id: str, registration_number: str, note: str, actor: Actor,
                               cause: Cause, individual: bool | None) -> RecordedEvent:
        """The secretariat binds an account at the counter, the authorisation in front of it: verified at once.
        ``individual``: the producer is a household business (its number sealed), or not, or not said (None)."""
        binding_id = bindings.binding_id_for(applicant_id, registration_number)
        binding = await self.load_binding(binding_id)
        verified = bindings.verify(binding, applicant_id=applicant_id, registration_number=registration_number,
                                   note=note)
        return await self._record_binding(binding_id, binding.version if binding else 0, verified, actor, cause,
                                          bindings.sealed_at_counter(binding, registration_number, individual))

    async def verify_binding(self, binding_id: str, note: str, actor: Actor, cause: Cause) -> RecordedEvent:
        binding = await self._binding(binding_id)
        verified = bindings.verify(binding, applicant_id=binding.applicant_id,
                                   registration_number=await self.binding_number(binding), note=note)
        return await self._record_binding(binding_id, binding.version, verified, actor, cause, binding.sealed)

    async def refuse_binding(self, binding_id: str, reason: str, actor: Actor, cause: Cause
                             ) -> tuple[RecordedEvent, list[str]]:
        """Refuse the account's claim, then reject its dossiers for the producer still before acceptance; answers
        the event and the ids of the dossiers rejected."""
        binding = await self._binding(binding_id)
        number = await self.binding_number(binding)
        refused = await self._record_binding(binding_id, binding.version, bindings.refuse(
            binding, registration_number=number, reason=reason), actor, cause, binding.sealed)
        rejected = []
        why = f"the account that filed it may not file for this producer: {reason}"[:500]
        number_of_binding = number.strip().upper()
        async for doc in self.rt.db["dossiers"].find({"applicant_id": binding.applicant_id},
                                                      projection={"producer.registration_number": 1,
                                                                  "received_event_id": 1}):
            number = doc["producer"]["registration_number"]
            if is_sealed(number):  # a household's (ADR 0048)
                number = (await open_fields({"producer": {"registration_number": number}},
                                            doc.get("received_event_id", ""), self.keys.key)
                          )["producer"]["registration_number"]
            if str(number).strip().upper() != number_of_binding:
                continue

            def decide(state: dossiers.Dossier, _: RoundOpened) -> EventData:
                if (decided := dossiers.reject_unbound(state, reason=why)) is None:
                    raise Refused("past acceptance or closed")
                return decided
            try:
                await self.act(doc["_id"], decide, actor, Cause.of(refused))
            except Refused:
                continue
            rejected.append(doc["_id"])
        return refused, rejected

    async def accept(self, dossier_id: str, *, product_group: str, sample_code: str | None, actor: Actor,
                     cause: Cause, codes: SelectionCodes | None = None) -> RecordedEvent:
        """The completeness check accepts: only a dossier whose account is verified for the producer (verifying a
        requested binding here, the officer having checked the authorisation), and one per producer's product."""
        state, _ = await self.load_dossier(dossier_id)
        round_ = await self.load_round(state.round_id)
        dossiers.accept(state, round_, product_group=product_group, sample_code=sample_code or "-")  # its state first
        identity = dossiers.product_identity(state)
        if await views.accepted_of_product(self.rt.db, identity, besides=state.id):
            raise Refused(f"this producer already has an accepted dossier for this product in round {round_.code}",
                          reason="duplicate")
        if state.id != identity:  # filed by an account not verified for the producer when it filed
            await self._verify_at_check(state, actor, cause)
        if codes is not None:  # the selection code, unique in the round, drawn when none is given (ADR 0046)
            sample_code = await codes.claim_code(state.round_id, sample_code, state.id,
                                                 state.received["receipt_number"])
        if sample_code is None:
            raise Refused("a sample code is needed", kind="invalid", field="sample_code")
        code = sample_code
        try:
            public = await self._verified_organisation(state)
            return await self.act(dossier_id, lambda s, r: dossiers.accept(
                s, r, product_group=product_group, sample_code=code, organisation=public), actor, cause)
        except Exception:
            # refused or failed between the claim and the acceptance: the code goes back to the round (a crash
            # here leaves the claim, which another dossier takes over once stale: SampleCustody.claim_code)
            if codes is not None:
                await codes.release_code(state.round_id, code, state.id)
            raise

    async def _verified_organisation(self, state: dossiers.Dossier) -> dict[str, str] | None:
        """An organisation's name and registration number, sealed at filing while only declared, opened for the
        acceptance that verifies it to carry in clear (ADR 0048, fourth amendment); None for a household's (carried
        sealed) or one received clear."""
        producer = state.received["producer"]
        identity = {f: producer[f] for f in ("name", "registration_number")}
        if is_individual(producer.get("kind")) or not any(map(is_sealed, identity.values())):
            return None
        opened: dict[str, str] = (await open_fields({"producer": identity}, state.received_event_id,
                                                    self.keys.key))["producer"]
        if ERASED in opened.values():
            raise Refused("the producer's personal data was erased: its dossier can no longer be accepted",
                          current_status=state.status.value)  # as the check of an unverified account says it
        return opened

    async def _verify_at_check(self, state: dossiers.Dossier, actor: Actor, cause: Cause) -> None:
        number = await self.registration_number(state)
        if number is None:
            raise Refused("the producer's personal data was erased: its dossier can no longer be accepted",
                          current_status=state.status.value)
        binding_id = bindings.binding_id_for(state.producer_id, number)
        binding = await self.load_binding(binding_id)
        if binding is not None and binding.status is bindings.Status.VERIFIED:
            return
        if binding is not None and binding.status is bindings.Status.REFUSED:
            raise Refused("the account that filed this dossier was refused for the producer", binding_id=binding_id,
                          binding_status=binding.status.value)
        if await views.verified_for_producer(self.rt.db, number, besides=state.producer_id):
            raise Refused("another account is already verified for this producer: verify or refuse this "
                          "account's binding first", binding_id=binding_id, binding_status="requested")
        verified = bindings.verify(binding, applicant_id=state.producer_id, registration_number=number,
                                   dossier_id=state.id, note="verified at the completeness check")
        try:
            await self._record_binding(binding_id, binding.version if binding else 0, verified, actor, cause,
                                       is_sealed(state.received["producer"]["registration_number"]))
        except ConcurrencyConflict:
            again = await self.load_binding(binding_id)
            if again is None or again.status is not bindings.Status.VERIFIED:
                raise

    async def load_dossier(self, dossier_id: str) -> tuple[dossiers.Dossier, list[RecordedEvent]]:
        events = await self.store.read_stream(dossier_id) if dossier_id.startswith("dossier-") else []
        state = replay(dossiers.evolve, events)
        if state is None:
            raise Refused(f"no dossier {dossier_id}", kind="not_found")
        return state, events

    async def act(self, dossier_id: str, decide: Callable[[dossiers.Dossier, RoundOpened], EventData],
                  actor: Actor, cause: Cause) -> RecordedEvent:
        """Load, decide, append; on a concurrent change, decide again on the new state (once)."""
        for attempt in (1, 2):
            state, history = await self.load_dossier(dossier_id)
            round_ = await self.load_round(state.round_id)
            event = decide(state, round_)
            try:
                return await record(self.rt, dossier_id, state.version, event, actor, cause, dossier_id,
                                    history=history)
            except ConcurrencyConflict:
                if attempt == 2:
                    raise
                await asyncio.sleep(0)
        raise AssertionError("unreachable")

    # ---- escalation ------------------------------------------------------------------------------------

    @staticmethod
    def goes_up(event: RecordedEvent) -> bool:
        """Whether a result goes up a level, the only ones escalation acts on: from the event alone, so the others
        are passed over without an inbox entry each (ADR 0053)."""
        return bool(event.data.get("goes_up_a_level"))

    async def on_result_approved(self, event: RecordedEvent) -> None:
        """A result that goes up a level opens a dossier in the round's parent round with the original's data."""
        data = event.data
        if not data.get("goes_up_a_level"):
            return
        try:
            state, events = await self.load_dossier(data["dossier_id"])
        except Refused:
            return  # not a dossier intake knows (another deployment's): nothing to escalate
        round_ = await self.load_round(state.round_id)
        if not round_.parent_round_id:
            return
        received = await self.opened(events[0])
        if received["producer"]["registration_number"] == ERASED:
            return  # the producer's data was erased (ADR 0048): there is no one to file for any more
        escalated = EscalatedFrom(dossier_id=state.id, round_id=state.round_id, result_event_id=event.id,
                                  rating=data["rating"].get("label"), points=data.get("points"))
        try:
            await self.submit(
                round_.parent_round_id, received["producer"],
                Product.model_validate(received["product"]),
                [Document.model_validate(d) for d in received["documents"]],
                Actor.system("intake"), Cause.of(event), escalated_from=escalated,
                event_id=deterministic_id("escalate", event.id))
        except (AlreadyRecorded, DuplicateKeyError):
            return
        except Refused as refused:
            if refused.detail.get("reason") == "duplicate":
                return  # already escalated (a redelivery, or the producer filed there directly)
            raise


def data_subject(registration_number: str) -> str:
    """Whose key seals a producer's personal fields: the producer, by its registration number (ADR 0035)."""
    return f"producer:{registration_number.strip().upper()}"
