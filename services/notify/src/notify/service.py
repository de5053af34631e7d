"""Notify: turns the other services' events into deliveries, and delivers them durably, each once.

A delivery is a document keyed by (event id, recipient, channel, template): inserting it is the "never twice"
guarantee — a replay of the topics from offset 0 finds every key taken and sends nothing. Its entry in the
small ``due`` queue says when to try; each attempt is claimed by inserting ``<delivery>:<attempt>``, so with
several replicas exactly one makes it. Failures are retried with exponential backoff and jitter; after the
last allowed attempt the delivery fails with ``notification.failed``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from binhchon_kit.app import Runtime
from binhchon_kit.consumer import PermanentError
from binhchon_kit.contracts.notify import Channel, NotificationFailed, NotificationSent
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent, deterministic_id
from binhchon_kit.eventstore import AlreadyRecorded, ConcurrencyConflict
from notify.adapters.channels import DeliveryError, Email, Webhook
from notify.adapters.templates import Templates, context_for
from notify.domain.messages import Message, Recipient, messages_for

log = logging.getLogger("binhchon.notify")
SYSTEM = Actor.system("notify")


def now_utc() -> datetime:
    return datetime.now(UTC)


class UnknownDossier(Exception):
    """An event about a dossier whose dossier.received has not reached us yet (topics are not ordered)."""


class Notify:
    def __init__(self, runtime: Runtime, templates: Templates, email: Email, webhook: Webhook, *,
                 certification_url: str, intake_url: str, max_attempts: int = 5, backoff_seconds: float = 2.0,
                 max_event_age: timedelta = timedelta(days=3), clock: Callable[[], datetime] = now_utc) -> None:
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
        self.parallel = 8  # deliveries in flight at once per replica
        self.now = clock
        self.wake = asyncio.Event()

    # ---- what notify keeps from events ---------------------------------------------------------------

    async def on_event(self, event: RecordedEvent) -> None:
        data = event.data
        if event.type == "dossier.received":
            producer = data["producer"]
            await self.db["contacts"].replace_one({"_id": event.subject}, {
                "recipient_id": f"producer:{producer['registration_number']}", "name": producer["name"],
                "email": producer["contact"].get("email"), "receipt_number": data["receipt_number"],
                "product_name": data["product"]["name"], "province_code": producer["address"]["province_code"]},
                upsert=True)
        elif event.type == "panel.formed":
            await self.db["panels"].replace_one({"_id": data["round_id"]}, dict(data), upsert=True)
        elif event.type == "round.opened":
            await self.db["rounds"].replace_one({"_id": data["round_id"]}, dict(data), upsert=True)
        elif event.type in ("score.submitted", "score.amended", "judge.recused"):
            await self._cancel_reminders(event.subject, data["member_id"])
        elif event.type == "scoring.completed":
            await self._cancel_reminders(event.subject, None)
        contact = await self.db["contacts"].find_one({"_id": event.subject})
        if event.type in _PRODUCER_TYPES and contact is None:
            raise UnknownDossier(f"no contact yet for {event.subject}")
        producer = Recipient(contact["recipient_id"], contact["name"], contact.get("email")) if contact else None
        panel = await self.db["panels"].find_one({"_id": data.get("round_id")}) if "round_id" in data else None
        approvers = [Recipient(r["_id"], r["name"], r.get("email"))
                     async for r in self.db["recipients"].find({"roles": "approver"})]
        contacts = {}
        if event.type == "ceremony.scheduled":
            for invitee in data["invitees"]:
                c = await self.db["contacts"].find_one({"_id": invitee["dossier_id"]})
                if c is None:  # its dossier.received is on another topic and may not have arrived yet
                    raise UnknownDossier(f"no contact yet for invitee {invitee['dossier_id']}")
                contacts[invitee["dossier_id"]] = Recipient(c["recipient_id"], c["name"], c.get("email"))
        round_ = await self.db["rounds"].find_one({"_id": data.get("round_id")}) if "round_id" in data else None
        stale = self.now() - event.time > self.max_event_age
        for message in messages_for(event, producer=producer, panel=panel, approvers=approvers, contacts=contacts,
                                    round_=round_):
            if stale and (message.due_at is None or message.due_at < self.now()):
                continue  # history replayed into a new deployment: people are not told again about old news
            await self._enqueue_email(message, contact)
            if message.template == "score.reminder":
                await self.db["reminders"].replace_one(
                    {"_id": f"{event.subject}:{message.recipient.id}"},
                    {"dossier_id": event.subject, "member_id": message.recipient.id, "delivery": message.key},
                    upsert=True)
        if not stale:
            await self._enqueue_webhooks(event, contact)
        self.wake.set()

    async def _enqueue_email(self, message: Message, contact: dict[str, Any] | None) -> None:
        assert message.recipient.email
        context = context_for(message, contact, certification_url=self.certification_url,
                              intake_url=self.intake_url)
        subject, text, html = self.templates.render(message.template, context)
        await self._enqueue(message.key, {
            "channel": Channel.EMAIL.value, "recipient_id": message.recipient.id, "address": message.recipient.email,
            "template": message.template, "subject": subject, "text": text, "html": html,
        }, message.about_event, message.due_at)

    async def _enqueue_webhooks(self, event: RecordedEvent, contact: dict[str, Any] | None) -> None:
        province = (contact or {}).get("province_code")
        async for sub in self.db["subscriptions"].find({}):
            if sub["event_types"] and event.type not in sub["event_types"]:
                continue
            if sub["province_codes"] and province not in sub["province_codes"]:
                continue
            key = deterministic_id(event.id, sub["_id"], "webhook")
            await self._enqueue(key, {"channel": Channel.WEBHOOK.value, "recipient_id": f"agency:{sub['_id']}",
                                      "address": sub["url"], "template": event.type,
                                      "body": event.to_cloudevent().to_bytes()}, event, None)

    async def _enqueue(self, key: str, fields: dict[str, Any], event: RecordedEvent, due: datetime | None) -> None:
        at = due or self.now()
        try:
            await self.db["deliveries"].insert_one({
                "_id": key, **fields, "status": "pending", "attempts": 0, "subject_id": event.subject,
                "about_event_id": event.id, "about_event_type": event.type, "created_at": self.now(), "due_at": at})
        except DuplicateKeyError:
            return  # this message was made before (a redelivery or a replay): never twice
        await self.db["due"].insert_one({"_id": key, "at": at, "attempt": 1})

    async def _cancel_reminders(self, dossier_id: str, member_id: str | None) -> None:
        """A judge who scored (or was recused, or whose dossier completed) is not reminded."""
        query: dict[str, Any] = {"dossier_id": dossier_id}
        if member_id is not None:
            query["member_id"] = member_id
        async for reminder in self.db["reminders"].find(query):
            await self.db["due"].delete_one({"_id": reminder["delivery"]})
            await self.db["deliveries"].update_one({"_id": reminder["delivery"], "status": "pending"},
                                                   {"$set": {"status": "cancelled", "finished_at": self.now()}})

    # ---- delivering ----------------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        now = self.now()
        entries = [e for e in await self.db["due"].find({}).to_list() if _aware(e["at"]) <= now]
        slots = asyncio.Semaphore(self.parallel)

        async def one(entry: dict[str, Any]) -> bool:
            async with slots:
                try:  # one replica per attempt
                    await self.db["claims"].insert_one({"_id": f"{entry['_id']}:{entry['attempt']}", "at": now})
                except DuplicateKeyError:
                    return False
                delivery = await self.db["deliveries"].find_one({"_id": entry["_id"]})
                if delivery is None:
                    return False
                await self._attempt(delivery, entry["attempt"])
                return True

        results = await asyncio.gather(*(one(e) for e in sorted(entries, key=lambda e: _aware(e["at"]))))
        return sum(results)

    async def _attempt(self, delivery: dict[str, Any], attempt: int) -> None:
        key = delivery["_id"]
        try:
            if delivery["channel"] == Channel.EMAIL.value:
                await self.email.send(delivery["address"], delivery["subject"], delivery["text"], delivery["html"], key)
            else:
                sub_id = delivery["recipient_id"].removeprefix("agency:")
                sub = await self.db["subscriptions"].find_one({"_id": sub_id})
                if sub is None:
                    raise DeliveryError("the subscription was removed")
                await self.webhook.send(delivery["address"], sub["secret"], delivery["body"], key,
                                        delivery["about_event_type"])
        except DeliveryError as exc:
            if attempt >= self.max_attempts:
                await self._finish(delivery, attempt, "failed", str(exc))
                return
            delay = self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            await self.db["deliveries"].update_one({"_id": key}, {"$set": {"attempts": attempt,
                                                                          "last_error": str(exc)}})
            await self.db["due"].replace_one({"_id": key}, {"at": self.now() + timedelta(seconds=delay),
                                                            "attempt": attempt + 1})
            log.warning("delivery %s attempt %d failed (%s); again in %.1fs", key, attempt, exc, delay)
            return
        await self._finish(delivery, attempt, "sent", None)

    async def _finish(self, delivery: dict[str, Any], attempts: int, status: str, reason: str | None) -> None:
        key = delivery["_id"]
        await self.db["deliveries"].update_one({"_id": key}, {"$set": {
            "status": status, "attempts": attempts, "last_error": reason, "finished_at": self.now()}})
        await self.db["due"].delete_one({"_id": key})
        common = {"delivery_id": key, "about_event_id": delivery["about_event_id"],
                  "about_event_type": delivery["about_event_type"], "recipient": delivery["recipient_id"],
                  "channel": delivery["channel"], "template": delivery["template"], "attempts": attempts}
        data = NotificationSent(**common) if status == "sent" else NotificationFailed(**common, reason=reason or "")
        type_ = "notification.sent" if status == "sent" else "notification.failed"
        try:
            await self.rt.store.append(f"delivery-{key}", 0, NewEvent(type_, data, id=deterministic_id(type_, key)),
                                       subject=delivery["subject_id"], actor=SYSTEM,
                                       cause=Cause(correlation_id=delivery["about_event_id"],
                                                   causation_id=delivery["about_event_id"]))
        except (AlreadyRecorded, ConcurrencyConflict):
            pass

    async def worker(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.deliver_due()
            except Exception as exc:
                log.warning("delivery pass failed: %s", exc)
            self.wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
            await asyncio.wait(waiters, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()

    # ---- administration ------------------------------------------------------------------------------

    async def subscribe(self, url: str, event_types: list[str], province_codes: list[str]) -> dict[str, Any]:
        sub = {"_id": "sub-" + uuid.uuid4().hex[:12], "url": url, "event_types": event_types,
               "province_codes": province_codes, "secret": secrets.token_urlsafe(32), "created_at": self.now()}
        await self.db["subscriptions"].insert_one(sub)
        return sub


_PRODUCER_TYPES = {"dossier.supplement_requested", "dossier.accepted", "dossier.rejected", "dossier.rescheduled",
                   "result.approved", "result.not_recognised", "certificate.issued", "certificate.expiring",
                   "certificate.expired", "certificate.revoked"}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = ["Notify", "PermanentError", "UnknownDossier"]
