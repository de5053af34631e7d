"""Notify: turns the other services' events into deliveries, and delivers them durably, each once.

A delivery is a document keyed by (event id, recipient, channel, template): inserting it is the "never twice"
guarantee — a replay of the topics from offset 0 finds every key taken and sends nothing. Its ``due_key``, set
by that same insert and unset by its outcome, says when to try (ADR 0054); each attempt is claimed by inserting
``<delivery>:<attempt>`` with a lease, so with several replicas exactly one makes it, and the claim of a worker
killed mid-send expires and is taken over by one other, which inserts the claim's next generation (ADR 0013; at
most one duplicate per lease, never a loss). Failures are retried with exponential backoff and jitter; after
the last allowed attempt the delivery fails with ``notification.failed``.

An event whose facts (the producer's contact, the round's panel or schedule, the approvers, the dossier's
``scoring.opened``) have not arrived yet waits in ``parked`` (notify.waiting) and is tried again when they come;
it is never dropped (ADR 0006).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo.errors import DuplicateKeyError

from binhchon_kit import claims, key_range
from binhchon_kit.commands import record
from binhchon_kit.consumer import PermanentError, dead_letter_headers
from binhchon_kit.contracts.certification import CeremonyScheduled
from binhchon_kit.contracts.intake import DossierAccepted, DossierReceived, PersonalDataErased, RoundOpened
from binhchon_kit.contracts.ledger import FeePaid
from binhchon_kit.contracts.notify import Channel, NotificationFailed, NotificationSent
from binhchon_kit.contracts.registry import type_of
from binhchon_kit.contracts.scoring import (
    JudgeRecused,
    MemberSubstituted,
    PanelFormed,
    ResultProposed,
    ScoreAmended,
    ScoreSubmitted,
    ScoringCompleted,
    ScoringOpened,
)
from binhchon_kit.envelope import CloudEvent
from binhchon_kit.errors import Refused
from binhchon_kit.events import Actor, Cause, RecordedEvent, deterministic_id
from binhchon_kit.eventstore import AlreadyRecorded, ConcurrencyConflict
from binhchon_kit.loops import every
from binhchon_kit.metrics import MESSAGES_HANDLED
from binhchon_kit.personal import (
    ERASED,
    KeysUnavailable,
    copy_sealed,
    is_sealed,
    open_sealed,
    producer_recipient,
    sealed_kids,
)
from binhchon_kit.personal_keys import CopiesOpener, KeyClient
from binhchon_kit.runtime import Runtime
from binhchon_kit.topics import dead_letter_topic
from binhchon_kit.vietnam_time import now_utc
from notify.adapters.channels import DeliveryError, Email, Webhook, new_secret
from notify.adapters.targets import ForbiddenTarget
from notify.adapters.templates import Templates, context_for
from notify.domain.messages import (
    PRODUCER_EVENTS,
    SCORE_REMINDER,
    Message,
    Recipient,
    calls_for_telling,
    messages_for,
)
from notify.domain.published import agency_event, is_published, published_types
from notify.views import DUE_KEY, LOG_KEY, delivery_key, due_fields, instant, log_key, subscription_key
from notify.waiting import MissingFacts, WaitingRoom, origin_of

APPROVERS = "approvers"
# facts of whom to tell that no event brings (an operator adds the recipient, POST /recipients): an event that waited
# its time for one of them alone is handled, telling no one of that kind, never dead-lettered
RECIPIENT_FACTS = frozenset({APPROVERS})
log = logging.getLogger("binhchon.notify")
SYSTEM = Actor.system("notify")


class Notify:
    def __init__(self, runtime: Runtime, templates: Templates, email: Email, webhook: Webhook, *,
                 certification_url: str, intake_url: str, max_attempts: int = 5, backoff_seconds: float = 2.0,
                 max_event_age: timedelta = timedelta(days=3), fact_wait: timedelta = timedelta(hours=24),
                 lease: timedelta = timedelta(minutes=2), clock: Callable[[], datetime] = now_utc,
                 key_client: KeyClient | None = None) -> None:
        self.rt = runtime
        self.db = runtime.db
        self.templates = templates
        self.email = email
        self.webhook = webhook
        self.certification_url = certification_url.rstrip("/")
        self.intake_url = intake_url.rstrip("/")
        self.max_attempts = max_attempts
        self.backoff = backoff_seconds
        self.max_event_age = max_event_age
        self.lease = lease  # how long a claimed delivery attempt is this worker's; sends are cut at half of it
        self.parallel = 8  # deliveries in flight at once per replica
        self.now = clock
        self.owner = f"{runtime.settings.service_name}-{uuid.uuid4().hex[:8]}"
        # sent, but the outcome not yet stored (the store failed right after the send): recorded before anything
        # else is sent, never sent again by this process (issue 14: a store outage sent a receipt mail twice)
        self.sent_unrecorded: dict[str, tuple[dict[str, Any], int]] = {}
        self.waiting = WaitingRoom(self.db, clock, self.owner, wait_for=fact_wait, lease=lease)
        self.wake = asyncio.Event()
        self.keys = key_client  # opens the producers' sealed e-mail addresses (ADR 0035)
        self.shown = CopiesOpener(key_client)  # and a household's name and number the events carry (ADR 0048)

    # ---- what notify keeps from events ---------------------------------------------------------------

    async def on_event(self, event: RecordedEvent) -> None:
        contacts = Contacts(self.db)  # this event's: a contact is read once per event, never kept across events
        await self._learn(event, contacts)
        if not calls_for_telling(event.model()) and not is_published(event.type):
            return  # a judge's sheet and the like: nobody is told, it never waits, so there is nothing to look up
        try:
            await self._tell(event, contacts=contacts)
        except MissingFacts as missing:
            # parked durably, so the consumer may mark it handled and go on; a redelivery parks it once
            if await self.waiting.park(event, missing):
                log.info("%s %s waits: %s", event.type, event.id, missing.reason)
        else:  # a redelivery of an event parked before its facts came waits no more
            await self.waiting.told(event.id)
        self.wake.set()

    async def _learn(self, event: RecordedEvent, contacts: Contacts) -> None:
        """Keep the facts later events need, and try again what was waiting for them. A contact written here is
        the one this event's messages are then addressed from (``contacts``), not read back."""
        data = event.data
        arrived: list[str] = []
        told = event.model()
        if isinstance(told, DossierReceived):
            producer = data["producer"]
            filed_as = producer_recipient(producer["registration_number"])
            contact = {
                # keyed_as: the id the producer's messages are keyed by, kept when the acceptance changes its
                # recipient_id (ADR 0038, 2026-11-30 (late))
                "recipient_id": filed_as, "keyed_as": filed_as,
                # a household's name sealed (dossier.received v3, ADR 0048): kept as a copy, opened for each mail
                "name": copy_sealed(producer["name"], event_id=event.id, path="producer.name")
                if is_sealed(producer["name"]) else producer["name"],
                # a sealed address (dossier.received v2) is kept sealed, opened for each mail (ADR 0035)
                **self._address_of(event), "kids": sorted(sealed_kids(producer)),
                "receipt_number": data["receipt_number"],
                "product_name": data["product"]["name"], "province_code": producer["address"]["province_code"]}
            await self.db["contacts"].replace_one({"_id": event.subject}, contact, upsert=True)
            contacts.known(event.subject, {"_id": event.subject, **contact})
            arrived.append(f"contact:{event.subject}")
        elif isinstance(told, DossierAccepted):
            await self._verified_identity(event, contacts)
        elif isinstance(told, PersonalDataErased):
            await self._forget(told)
            contacts.clear()
        elif isinstance(told, PanelFormed):
            await self.db["panels"].replace_one({"_id": data["round_id"]}, dict(data), upsert=True)
            arrived.append(f"panel:{data['round_id']}")
        elif isinstance(told, RoundOpened):
            await self.db["rounds"].replace_one({"_id": data["round_id"]}, dict(data), upsert=True)
            arrived.append(f"round:{data['round_id']}")
        elif isinstance(told, ScoringOpened):  # what a substitute member is later told the dossier is
            await self.db["scorings"].replace_one({"_id": event.subject}, dict(data), upsert=True)
            arrived.append(f"scoring:{event.subject}")
        elif isinstance(told, ScoreSubmitted | ScoreAmended | JudgeRecused):
            await self._no_reminder(event.subject, data["member_id"])
        elif isinstance(told, ScoringCompleted):
            await self._no_reminder(event.subject, None)
        await self.waiting.facts_arrived(arrived)

    async def _verified_identity(self, event: RecordedEvent, contacts: Contacts) -> None:
        """An organisation's identity, sealed at filing, is public once the secretariat accepts its dossier
        (ADR 0048, fourth amendment): from then on its mails are its registration number's, and so are those
        already made for this dossier under the key id that sealed the number (the receipt, a request to
        supplement), so that the producer has one inbox. A household's number stays sealed: nothing changes.
        The mails first, then the contact: a crash between the two is mended by the event's redelivery, which
        does both again (each is idempotent). The dossier's mails are its log's (``log_key``, its own index's
        range): a query on ``subject_id`` read every delivery ever made, on each acceptance (issue 14)."""
        number = event.data.get("producer_registration_number")
        if not isinstance(number, str) or not number:
            return
        contact = await contacts.get(event.subject)
        public = producer_recipient(number)
        if contact is None or contact["recipient_id"] == public:
            return
        # only the finished ones: FerretDB writes an updated document back whole, so rewriting a delivery still in
        # flight could put back the status its worker had just changed (the fault suite lost two receipts so);
        # one still pending when the dossier is accepted stays in the key id's inbox. The store checks both again.
        finished = {"recipient_id": contact["recipient_id"], "status": {"$in": ["sent", "failed"]}}
        for delivery in await self._deliveries_of(event.subject, {"recipient_id": 1, "status": 1}):
            if delivery.get("recipient_id") == contact["recipient_id"] and delivery.get("status") in ("sent", "failed"):
                await self.db["deliveries"].update_one({"_id": delivery["_id"], **finished},
                                                       {"$set": {"recipient_id": public}})
        await self.db["contacts"].update_one({"_id": event.subject}, {"$set": {"recipient_id": public}})
        contacts.known(event.subject, {**contact, "recipient_id": public})

    async def _deliveries_of(self, dossier_id: str, projection: dict[str, Any]) -> list[dict[str, Any]]:
        """Every delivery made for the dossier (its log, ``log_key``), a page at a time on that key's index."""
        prefix = f"{dossier_id}|"
        found = await key_range.in_range(self.db["deliveries"], prefix, key_range.after(prefix), field=LOG_KEY,
                                         projection={**projection, "subject_id": 1})
        return [d for d in found if d.get("subject_id") == dossier_id]  # not one whose id goes on past a "|"

    @staticmethod
    def _address_of(event: RecordedEvent) -> dict[str, Any]:
        email = event.data["producer"]["contact"].get("email")
        if is_sealed(email):
            return {"email": None, "sealed_email": {"value": email, "event_id": event.id}}
        return {"email": email, "sealed_email": None}

    async def _recipient(self, contact: dict[str, Any], missing: Callable[[str, str], None]) -> Recipient:
        """The producer as a mail's recipient. A sealed address is opened with the producer's key from intake;
        erased, there is none (the producer is not mailed); intake not answering, the event waits for it."""
        email = contact.get("email")
        sealed = contact.get("sealed_email")
        if sealed and self.keys is None:
            log.warning("the e-mail address of %s is sealed and notify has no INTAKE_SERVICE_TOKEN_FILE to ask "
                        "intake for the key: not mailed", contact["_id"])
        elif sealed and self.keys is not None:
            try:
                key = await self.keys.key(sealed["value"]["kid"])
            except httpx.HTTPError as exc:
                missing(f"key:{contact['_id']}", f"intake's key store did not answer ({type(exc).__name__})")
                key = None
            if key is not None:
                email = open_sealed(key, sealed["value"], event_id=sealed["event_id"], path="producer.contact.email")
        try:
            name = (await self.shown({"name": contact["name"]}))["name"]
        except KeysUnavailable as exc:
            missing(f"key:{contact['_id']}", str(exc))
            name = ERASED
        return Recipient(contact["recipient_id"], name, email, keyed_as=contact.get("keyed_as"))

    async def _forget(self, erased: PersonalDataErased) -> None:
        """A producer's personal data was erased (ADR 0035): drop the address notify opened, from its contacts and
        from every mail it made for those dossiers; a mail not sent yet is not sent."""
        if self.keys is not None:
            self.keys.drop(erased.kids)
        await forget_erased(self.db, erased.kids, erased.dossier_ids, self.now())

    async def _cancel(self, delivery_id: str) -> None:
        await cancel_delivery(self.db, delivery_id, self.now())

    async def _tell(self, event: RecordedEvent, nobody_is_fine: bool = False, contacts: Contacts | None = None) -> None:
        """Queue every message the event calls for, or raise MissingFacts before queueing any. ``nobody_is_fine``:
        a recipient nobody configured (RECIPIENT_FACTS) is no longer waited for; those messages go to no one.
        ``contacts``: those this event's handling read or wrote already (a new try reads them afresh)."""
        facts = await self._facts(event, contacts or Contacts(self.db), nobody_is_fine)
        contact = facts.pop("contact")
        stale = self.now() - event.time > self.max_event_age
        for message in messages_for(event, **facts):
            if stale and (message.due_at is None or message.due_at < self.now()):
                continue  # history replayed into a new deployment: people are not told again about old news
            await self._enqueue_email(message, contact)
            if message.template == SCORE_REMINDER:
                await self._remember_reminder(event.subject, message)
        if not stale:
            await self._enqueue_webhooks(event, contact)

    async def _facts(self, event: RecordedEvent, contacts: Contacts, nobody_is_fine: bool = False) -> dict[str, Any]:
        """What ``messages_for`` needs to know about the event, looked up; MissingFacts names what is absent."""
        data = event.data
        told = event.model()
        needs: list[str] = []
        reasons: list[str] = []

        def missing(fact: str, reason: str) -> None:
            needs.append(fact)
            reasons.append(reason)

        contact = await contacts.get(event.subject)
        if contact is None and (isinstance(told, _PRODUCER_TYPES) or await self._filtered_by_province(event)):
            missing(f"contact:{event.subject}", f"no dossier.received yet for {event.subject} (the producer's contact)")
        producer = await self._recipient(contact, missing) if contact else None
        # each fact looked up only for the events whose messages use it (messages_for)
        round_id = data.get("round_id")
        wants_panel = isinstance(told, ScoringOpened | ScoringCompleted | MemberSubstituted | FeePaid)
        panel = await self.db["panels"].find_one({"_id": round_id}) if round_id and wants_panel else None
        if panel is None and wants_panel:
            missing(f"panel:{round_id}", f"no panel.formed yet for round {round_id}")
        wants_round = isinstance(told, ScoringOpened | MemberSubstituted)
        round_ = await self.db["rounds"].find_one({"_id": round_id}) if round_id and wants_round else None
        if round_ is None and wants_round:
            missing(f"round:{round_id}", f"no round.opened yet for round {round_id} (its scoring deadline)")
        scoring = None
        if isinstance(told, MemberSubstituted):  # the substitute is told which product they score
            scoring = await self.db["scorings"].find_one({"_id": event.subject})
            if scoring is None:
                missing(f"scoring:{event.subject}", f"no scoring.opened yet for {event.subject} (the product scored)")
        approvers = [Recipient(r["_id"], r["name"], r.get("email"))
                     async for r in self.db["recipients"].find({"roles": "approver"})] \
            if isinstance(told, ResultProposed) else []
        if not approvers and isinstance(told, ResultProposed) and not nobody_is_fine:
            missing(APPROVERS, "no recipient has the approver role yet")
        invitees = {}
        if isinstance(told, CeremonyScheduled):
            for invitee in data["invitees"]:
                c = await contacts.get(invitee["dossier_id"])
                if c is None:
                    missing(f"contact:{invitee['dossier_id']}",
                            f"no dossier.received yet for invitee {invitee['dossier_id']}")
                else:
                    invitees[invitee["dossier_id"]] = await self._recipient(c, missing)
        if needs:
            raise MissingFacts(needs, reasons)
        return {"contact": contact, "producer": producer, "panel": panel, "approvers": approvers,
                "contacts": invitees, "round_": round_, "scoring": scoring}

    async def _filtered_by_province(self, event: RecordedEvent) -> bool:
        """A dossier's event goes to province-filtered webhooks only once its province is known."""
        if event.data.get("dossier_id") != event.subject or not is_published(event.type):
            return False
        query = {"province_codes": {"$ne": []}, "paused": {"$ne": True},
                 "$or": [{"event_types": []}, {"event_types": event.type}]}
        return await self.db["subscriptions"].find_one(query) is not None

    async def _enqueue_email(self, message: Message, contact: dict[str, Any] | None) -> None:
        assert message.recipient.email
        if message.earlier_keys and await self.db["deliveries"].find_one({"_id": {"$in": message.earlier_keys}},
                                                                         {"_id": 1}) is not None:
            return  # made by a version that keyed it by the producer's accepted id: made once already
        # the sealed copies the events carry (a household's name and number, ADR 0048) opened for the mail
        sealed = context_for(message, contact, certification_url=self.certification_url, intake_url=self.intake_url)
        context = await self.shown(sealed)
        subject, text, html = self.templates.render(message.template, context)
        fields: dict[str, Any] = {"channel": Channel.EMAIL.value, "recipient_id": message.recipient.id,
                  "address": message.recipient.email, "template": message.template, "subject": subject, "text": text,
                  "html": html,
                  # whose erasure blanks this mail's words: it may print what those keys sealed (ADR 0048)
                  "kids": sorted(sealed_kids(sealed) | sealed_kids((contact or {}).get("name")))}
        if "invitees" in message.context:  # a ceremony's mail: which of its certificates it names
            fields["certificate_numbers"] = [i["certificate_number"] for i in message.context["invitees"]]
        await self._enqueue(message.key, fields, message.about_event, message.due_at)

    async def _enqueue_webhooks(self, event: RecordedEvent, contact: dict[str, Any] | None) -> None:
        """The event's published view (notify.domain.published) to each running subscription that wants it; an
        unpublished type (a judge's sheet among them) to none, whatever a subscription asked for."""
        if not is_published(event.type):
            return
        province = (contact or {}).get("province_code")
        body: bytes | None = None
        async for sub in self.db["subscriptions"].find({}):
            if sub.get("paused"):
                continue  # a paused subscription is sent nothing, and nothing waits for it
            if sub["event_types"] and event.type not in sub["event_types"]:
                continue
            if sub["province_codes"] and province not in sub["province_codes"]:
                continue
            body = body or agency_event(event)
            key = deterministic_id(event.id, sub["_id"], "webhook")
            await self._enqueue(key, {"channel": Channel.WEBHOOK.value, "recipient_id": f"agency:{sub['_id']}",
                                      "address": sub["url"], "template": event.type, "body": body}, event, None)

    async def _enqueue(self, key: str, fields: dict[str, Any], event: RecordedEvent, due: datetime | None) -> None:
        """One insert: the delivery, due at ``due`` (now if None). A key taken means this message was made before
        (a redelivery or a replay): never twice."""
        at = due or self.now()
        delivery = {"_id": key, **fields, "status": "pending", "attempts": 0, "subject_id": event.subject,
                    "about_event_id": event.id, "about_event_type": event.type, "about_event_time": event.time,
                    "created_at": self.now(), "due_at": at}
        try:
            page_key = delivery_key(delivery)
            await self.db["deliveries"].insert_one({**delivery, "page_key": page_key,
                                                    LOG_KEY: log_key({**delivery, "page_key": page_key}),
                                                    **due_fields(key, at)})
        except DuplicateKeyError:
            # a delivery pending with no due_key was made by a version that queued it in a second write and died
            # before it: the redelivery that finds it makes it due (the first attempt's; nobody has tried it)
            made = await self.db["deliveries"].find_one({"_id": key}, {"status": 1, DUE_KEY: 1, "due_at": 1})
            if made is not None and made.get("status") == "pending" and DUE_KEY not in made:
                await self.db["deliveries"].update_one({"_id": key, "status": "pending", "attempts": 0}, {
                    "$set": due_fields(key, made.get("due_at") or at)})

    async def _no_reminder(self, dossier_id: str, member_id: str | None) -> None:
        """A judge who scored (or was recused, or whose dossier completed) is not reminded: the reminders already
        queued are cancelled, and while one may still be made (``_reminders_may_come``) a mark is kept, so that a
        reminder queued later (its scoring.opened waited for the panel) is cancelled as soon as it is made."""
        if await self._reminders_may_come(dossier_id):
            await self.db["reminders_off"].replace_one({"_id": f"{dossier_id}:{member_id or '*'}"},
                                                       {"at": self.now()}, upsert=True)
        # by _id (``<dossier>:<member>``), which the store's index answers: a query on dossier_id read every
        # reminder ever made, for each sheet (issue 14)
        if member_id is not None:
            one = await self.db["reminders"].find_one({"_id": f"{dossier_id}:{member_id}"})
            linked = [one] if one is not None else []
        else:
            linked = await key_range.with_prefix(self.db["reminders"], f"{dossier_id}:")
        for reminder in linked:
            if reminder["dossier_id"] == dossier_id:  # not another dossier's whose id goes on past a ":"
                await self._cancel(reminder["delivery"])

    async def _reminders_may_come(self, dossier_id: str) -> bool:
        """Whether a reminder of this dossier may be queued from now on: an event that makes them (its
        ``scoring.opened``, a substitution) waits for its facts. Those events come before any sheet, recusal or
        completion of the dossier on its partition, which this consumer reads in order; so one not parked now was
        told already, and its reminders are linked (written before its parked outcome, ADR 0006), for the caller to
        cancel. No mark is needed then (ADR 0006, 2026-11-30: eight writes per dossier). Read first, before
        the links: one told since is then found linked. The dossier's own parked events are read (``subject_key``,
        set by the park's insert), not what waits of every dossier (ADR 0006, "what of a dossier waits")."""
        mine = await self.waiting.of_subject(dossier_id, projection={"status": 1, "type": 1})
        return any(d.get("status") == "waiting" and d.get("type") in _MAKE_REMINDERS for d in mine)

    async def _remember_reminder(self, dossier_id: str, message: Message) -> None:
        member_id = message.recipient.id
        await self.db["reminders"].replace_one(
            {"_id": f"{dossier_id}:{member_id}"},
            {"dossier_id": dossier_id, "member_id": member_id, "delivery": message.key}, upsert=True)
        # checked after the link is written: with _no_reminder's order, one of the two sees the other
        off = {"_id": {"$in": [f"{dossier_id}:{member_id}", f"{dossier_id}:*"]}}
        if await self.db["reminders_off"].find_one(off) is not None:
            await self._cancel(message.key)


    async def retry_waiting(self) -> int:
        """Try the parked events that are due; dead-letter those whose facts outlasted the wait. Returns how many
        were handled."""
        handled = 0
        for doc in await self.waiting.take_due():
            event = RecordedEvent.from_cloudevent(CloudEvent.from_bytes(doc["body"]))
            try:
                await self._tell(event)
            except MissingFacts as missing:
                if not self.waiting.expired(doc):
                    await self.waiting.still_waiting(doc, missing)
                elif set(missing.needs) <= RECIPIENT_FACTS:
                    handled += await self._nobody_to_tell(doc, event, missing)
                else:
                    await self._dead_letter(doc, f"waited {self.waiting.wait_for} for its facts: {missing.reason}")
                continue
            await self.waiting.done(doc, "handled")
            log.info("%s %s no longer waits", event.type, event.id)
            handled += 1
        if handled:
            self.wake.set()
        return handled

    async def _nobody_to_tell(self, doc: dict[str, Any], event: RecordedEvent, missing: MissingFacts) -> int:
        """The event waited its time for a recipient no event brings (one an operator configures, RECIPIENT_FACTS)
        and none came: nothing is wrong with the event, so it is handled, telling whom else it tells, and said in
        the log and the ``nobody_to_tell`` outcome of binhchon_messages_handled_total; never a dead letter. A fact
        of another kind missing meanwhile is dead-lettered as ever."""
        try:
            await self._tell(event, nobody_is_fine=True)
        except MissingFacts as other:
            await self._dead_letter(doc, f"waited {self.waiting.wait_for} for its facts: {other.reason}")
            return 0
        await self.waiting.done(doc, "handled", f"nobody to tell: {missing.reason}")
        MESSAGES_HANDLED.labels(self.rt.settings.service_name, origin_of(doc).handler or "notify",
                                "nobody_to_tell").inc()
        log.warning("%s %s told nobody after waiting %s: %s (add the recipient: POST /recipients)", event.type,
                    event.id, self.waiting.wait_for, missing.reason)
        return 1

    async def _dead_letter(self, doc: dict[str, Any], reason: str) -> None:
        origin = origin_of(doc)
        if origin.topic:  # parked by the consumer (always, outside unit tests)
            if not self.rt.broker_ready:  # not connected yet (or any more): a later pass, here or elsewhere
                await self.waiting.release(doc)
                return
            try:
                await self.rt.broker.publish(doc["body"], topic=dead_letter_topic(origin.topic), key=origin.key,
                                             headers=dead_letter_headers(reason, origin, self.now()))
            except Exception:
                await self.waiting.release(doc)
                raise
            MESSAGES_HANDLED.labels(self.rt.settings.service_name, origin.handler, "dead_lettered").inc()
        await self.waiting.done(doc, "dead_lettered", reason)
        log.warning("dead-lettered %s %s from %s@%s/%s: %s", doc["type"], doc["_id"], origin.topic,
                    origin.partition, origin.offset, reason)

    # ---- delivering ----------------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        for key in list(self.sent_unrecorded):
            # taken before recording: two passes of this process at once (the loop's and a caller's) must not both
            # record it
            taken = self.sent_unrecorded.pop(key, None)
            if taken is None:
                continue
            try:
                await self._finish(taken[0], taken[1], "sent", None)
            except BaseException:  # the store is still down: kept for the next pass
                self.sent_unrecorded[key] = taken
                raise
        now = self.now()
        entries = await self.due_entries(now)
        slots = asyncio.Semaphore(self.parallel)

        async def one(entry: dict[str, Any]) -> bool:
            async with slots:
                attempt = int(entry.get("attempts", 0)) + 1
                if await self._claim(entry, attempt) is None:
                    return False
                # read again once claimed: sent, failed and rescheduled, or cancelled since the walk read it (a
                # takeover's, or a cancellation, which claims nothing), it is not this attempt's to make
                delivery = await self.db["deliveries"].find_one(
                    {"_id": entry["_id"], "status": "pending", "attempts": attempt - 1, DUE_KEY: entry[DUE_KEY]})
                if delivery is None:
                    return False
                await self._attempt(delivery, attempt)
                return True

        try:
            results = await asyncio.gather(*(one(e) for e in entries))
        finally:
            await self.email.close_idle()  # the mail server's connections kept between passes, not for ever
        return sum(results)

    async def due_entries(self, now: datetime) -> list[dict[str, Any]]:
        """The pending deliveries due ``now`` or before, in that order (their ``_id``, ``attempts`` and
        ``due_key``): a range of ``due_key`` (when, then which) on its index, which holds only the deliveries
        still to try, so neither those sent nor reminders queued days ahead are read on a pass. (``{at: {$lte:
        now}}`` was a scan of every entry: FerretDB does not push a date range down.)"""
        return await key_range.in_range(self.db["deliveries"], "", f"{instant(now)}}}", field=DUE_KEY,
                                        projection={"attempts": 1})

    async def _claim(self, entry: dict[str, Any], attempt: int) -> dict[str, Any] | None:
        """One replica per attempt, for a lease: the claim of a worker that died mid-send expires, and exactly
        one other worker takes it over (by inserting the claim's next generation, ADR 0013: a conditional update
        is no compare-and-set on FerretDB), so the mail goes at most once per lease. The claim held, or None.

        An attempt is nearly always claimed for the first time (``likely_new``: one write, then one read of the
        chain; ADR 0054)."""
        now = self.now()

        def expired(claim: dict[str, Any]) -> bool:
            if "until" not in claim:  # claims made before leases: by age
                return _aware(claim["at"]) <= now - self.lease
            return _aware(claim["until"]) <= now

        taken = await claims.take(self.db["claims"], f"{entry['_id']}:{attempt}",
                                  {"at": now, "until": now + self.lease, "owner": self.owner}, free=expired,
                                  likely_new=True)
        if taken is not None and taken["gen"] > 0:
            log.warning("delivery %s attempt %d: took over an expired claim", entry["_id"], attempt)
        return taken

    async def _attempt(self, delivery: dict[str, Any], attempt: int) -> None:
        try:
            # a send that outlives half its lease is given up, so a takeover never overlaps a live send
            async with asyncio.timeout(self.lease.total_seconds() / 2):
                await self._send(delivery)
        except TimeoutError:
            exc = DeliveryError(f"no answer within {self.lease.total_seconds() / 2:.0f}s")
            await self._failed(delivery, attempt, exc)
        except DeliveryError as exc:
            await self._failed(delivery, attempt, exc)
        except Withdrawn:
            await self._cancel(delivery["_id"])
        else:
            try:
                await self._finish(delivery, attempt, "sent", None)
            except BaseException:  # sent, its outcome not stored: the next pass records it before sending more
                self.sent_unrecorded[delivery["_id"]] = (delivery, attempt)
                raise

    async def _send(self, delivery: dict[str, Any]) -> None:
        key = delivery["_id"]
        if delivery["channel"] == Channel.EMAIL.value:
            await self.email.send(delivery["address"], delivery["subject"], delivery["text"], delivery["html"], key)
        else:
            sub_id = delivery["recipient_id"].removeprefix("agency:")
            sub = await self.db["subscriptions"].find_one({"_id": sub_id})
            if sub is None or sub.get("paused"):
                raise Withdrawn  # deleted or paused since it was queued: not sent, not retried
            await self.webhook.send(delivery["address"], sub["secret"], delivery["body"], key)

    async def _failed(self, delivery: dict[str, Any], attempt: int, exc: DeliveryError) -> None:
        key = delivery["_id"]
        if attempt >= self.max_attempts:
            await self._finish(delivery, attempt, "failed", str(exc))
            return
        delay = self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
        # one write: the attempt counted and the next one's time (only while this attempt is the pending one:
        # another worker may have finished the delivery meanwhile)
        await self.db["deliveries"].update_one({"_id": key, "status": "pending", "attempts": attempt - 1}, {"$set": {
            "attempts": attempt, "last_error": str(exc), **due_fields(key, self.now() + timedelta(seconds=delay))}})
        log.warning("delivery %s attempt %d failed (%s); again in %.1fs", key, attempt, exc, delay)

    async def _finish(self, delivery: dict[str, Any], attempts: int, status: str, reason: str | None) -> None:
        key = delivery["_id"]
        await self._outcome_event(delivery, attempts, status, reason)
        # then the delivery, in one write (its due_key goes with its status): a crash before it leaves the
        # delivery pending and due, so it is tried again once the claim's lease is over (at most one duplicate
        # mail), and that try finds its outcome event recorded. A failure is final only if no other worker sent it
        # meanwhile; a send is final always
        query = {"_id": key} if status == "sent" else {"_id": key, "status": "pending"}
        await self.db["deliveries"].update_one(query, {"$set": {
            "status": status, "attempts": attempts, "last_error": reason, "finished_at": self.now()},
            "$unset": {DUE_KEY: ""}})

    async def _outcome_event(self, delivery: dict[str, Any], attempts: int, status: str, reason: str | None) -> None:
        """``notification.sent`` or ``.failed``, once per delivery and outcome (its id derives from both)."""
        key = delivery["_id"]
        common = {"delivery_id": key, "about_event_id": delivery["about_event_id"],
                  "about_event_type": delivery["about_event_type"], "recipient": delivery["recipient_id"],
                  "channel": delivery["channel"], "template": delivery["template"], "attempts": attempts}
        data = NotificationSent(**common) if status == "sent" else NotificationFailed(**common, reason=reason or "")
        # one outcome event per delivery and outcome: its id derives from its type name and the delivery
        event_id = deterministic_id(type_of(type(data)), key)
        try:
            # recorded as every service records (no read model: the relay clears both its marks, ADR 0014)
            await record(self.rt, f"delivery-{key}", 0, data, SYSTEM,
                         Cause(correlation_id=delivery["about_event_id"], causation_id=delivery["about_event_id"]),
                         delivery["subject_id"], event_id=event_id)
        except (AlreadyRecorded, ConcurrencyConflict):
            pass

    async def worker(self, stop: asyncio.Event, interval: float) -> None:
        """Waiting events, then due deliveries, every ``interval`` or as soon as something is due (``wake``)."""
        try:
            await every(interval, stop, self.retry_waiting, self.deliver_due, wake=self.wake)
        finally:
            await self.email.close()

    # ---- administration ------------------------------------------------------------------------------

    async def subscribe(self, url: str, event_types: list[str], province_codes: list[str],
                        owner: str) -> dict[str, Any]:
        """An agency's webhook, its URL checked as every delivery will check it (Refused: 422 naming the field)."""
        unpublished = sorted(set(event_types) - set(published_types()))
        if unpublished:
            raise Refused("these event types are not published to agencies", kind="invalid", field="event_types",
                          unpublished=unpublished, published=published_types())
        try:
            await self.webhook.targets.check(url)
        except ForbiddenTarget as exc:
            raise Refused(f"url: {exc.reason}", kind="invalid", field="url", reason=exc.reason) from exc
        sub = {"_id": "sub-" + uuid.uuid4().hex[:12], "url": url, "event_types": event_types,
               "province_codes": province_codes, "secret": new_secret(), "created_at": self.now(), "owner": owner,
               "paused": False}
        await self.db["subscriptions"].insert_one({**sub, "page_key": subscription_key(sub)})
        return sub

    async def _subscription(self, sub_id: str, owner: str | None) -> dict[str, Any]:
        """One subscription of ``owner`` (None: anyone's, for an admin); another's reads as absent."""
        query: dict[str, Any] = {"_id": sub_id} if owner is None else {"_id": sub_id, "owner": owner}
        sub = await self.db["subscriptions"].find_one(query)
        if sub is None:
            raise Refused(f"no subscription {sub_id}", kind="not_found", subscription_id=sub_id)
        return sub

    async def pause(self, sub_id: str, owner: str | None, paused: bool = True) -> dict[str, Any]:
        """Pause (or resume) a subscription: paused, nothing is queued for it and what was queued is cancelled;
        resumed, it gets the events from then on (what happened meanwhile is on the topics and in the services'
        pages, not replayed here)."""
        await self._subscription(sub_id, owner)
        at = self.now()
        await self.db["subscriptions"].update_one({"_id": sub_id}, {"$set": {
            "paused": paused, "paused_at" if paused else "resumed_at": at}})
        if paused:
            await self._cancel_queued(sub_id)
        return await self._subscription(sub_id, owner)

    async def unsubscribe(self, sub_id: str, owner: str | None) -> None:
        """Delete a subscription, its secret with it; what was queued for it is cancelled. Its delivery log stays."""
        await self._subscription(sub_id, owner)
        await self.db["subscriptions"].delete_one({"_id": sub_id})
        await self._cancel_queued(sub_id)

    async def _cancel_queued(self, sub_id: str) -> None:
        async for delivery in self.db["deliveries"].find({"recipient_id": f"agency:{sub_id}", "status": "pending"}):
            await self._cancel(delivery["_id"])

    async def add_recipient(self, recipient_id: str, name: str, email: str, roles: list[str]) -> dict[str, Any]:
        """A person told by role (the approving authority's office); proposals that waited for an approver to
        tell are tried again at once."""
        doc = {"name": name, "email": email, "roles": roles}
        await self.db["recipients"].replace_one({"_id": recipient_id}, doc, upsert=True)
        if "approver" in roles:
            await self.waiting.facts_arrived([APPROVERS])
            self.wake.set()
        return {"id": recipient_id, **doc}


async def forget_erased(db: Any, kids: list[str], dossier_ids: list[str], now: datetime) -> tuple[int, int]:
    """What notify opened of an erased producer dropped (ADR 0035): the address in its contacts and in every mail
    it made for those dossiers; a mail not sent yet is cancelled. Idempotent: ``intake.erasures``' sibling,
    ``python -m notify.erasures reapply``, runs it again on a restored database (ADR 0048). Answers how many
    contacts and mails it changed."""
    dossiers = {"$in": list(dossier_ids)}
    contacts = await db["contacts"].update_many(
        {"$or": [{"_id": dossiers}, {"kids": {"$in": list(kids)}}], "erased": {"$ne": True}},
        {"$set": {"email": None, "sealed_email": None, "erased": True}})
    mails = {"subject_id": dossiers, "channel": Channel.EMAIL.value, "recipient_id": {"$regex": "^producer:"}}
    printed = {"kids": {"$in": list(kids)}}  # mails, to whomever, printing what the keys sealed (ADR 0048)
    async for pending in db["deliveries"].find({"$or": [mails, printed], "status": "pending"}, {"_id": 1}):
        await cancel_delivery(db, pending["_id"], now)
    deliveries = await db["deliveries"].update_many({**mails, "address": {"$ne": ERASED}},
                                                    {"$set": {"address": ERASED}})
    worded = await db["deliveries"].update_many({**printed, "text": {"$ne": ERASED}},
                                                {"$set": {"subject": ERASED, "text": ERASED, "html": ERASED}})
    return contacts.modified_count, deliveries.modified_count + worded.modified_count


async def cancel_delivery(db: Any, delivery_id: str, now: datetime) -> None:
    """A pending delivery not sent after all: cancelled and no longer due, in one write."""
    await db["deliveries"].update_one({"_id": delivery_id, "status": "pending"},
                                      {"$set": {"status": "cancelled", "finished_at": now}, "$unset": {DUE_KEY: ""}})


def only_marks_a_judge(event: RecordedEvent) -> bool:
    """Whether all notify does with the event is to mark a judge (or a dossier) as not to be reminded, cancelling
    a reminder already queued: a redelivery sets the same mark and finds the reminder cancelled, so the consumer
    keeps no inbox entry for it (``idempotent``, ADR 0053's 2026-11-30 amendment: seven per dossier)."""
    return isinstance(event.model(), _MARKING_TYPES) and not calls_for_telling(event.model()) \
        and not is_published(event.type)


_MARKING_TYPES = (ScoreSubmitted, ScoreAmended, JudgeRecused)
# the events whose messages include reminders (messages_for)
_MAKE_REMINDERS = frozenset({type_of(ScoringOpened), type_of(MemberSubstituted)})


class Contacts:
    """The producers' contacts one event's handling reads, each read from the store once (``_id``); what the
    handling writes to one is put here as written. Made anew for each event (and each try of a parked one), so a
    contact changed by another event is never served from here."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.read: dict[str, dict[str, Any] | None] = {}

    async def get(self, dossier_id: str) -> dict[str, Any] | None:
        if dossier_id not in self.read:
            self.read[dossier_id] = await self.db["contacts"].find_one({"_id": dossier_id})
        return self.read[dossier_id]

    def known(self, dossier_id: str, contact: dict[str, Any]) -> None:
        self.read[dossier_id] = contact

    def clear(self) -> None:
        self.read.clear()


class Withdrawn(Exception):
    """The delivery's subscription was paused or deleted after it was queued."""


# the producer's events whose mail needs the contact learnt from the dossier's receipt
_PRODUCER_TYPES = tuple(event for event in PRODUCER_EVENTS if event is not DossierReceived)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = ["MissingFacts", "Notify", "PermanentError"]
