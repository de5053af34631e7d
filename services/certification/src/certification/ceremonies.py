"""Ceremonies: scheduling (once per round, date and place), and what notify sent about them, learnt from its
``notification.sent`` / ``notification.failed`` events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from pymongo.errors import DuplicateKeyError

from binhchon_kit.commands import record
from binhchon_kit.consumer import PermanentError
from binhchon_kit.contracts.certification import CeremonyScheduled
from binhchon_kit.contracts.notify import NotificationSent
from binhchon_kit.contracts.registry import type_of
from binhchon_kit.events import Actor, Cause, RecordedEvent
from binhchon_kit.eventstore import AlreadyRecorded, ConcurrencyConflict
from binhchon_kit.runtime import Runtime
from certification.domain import ceremonies as rules
from certification.domain import certificates as certs
from certification.domain.errors import Refused
from certification.views import registrations

NOTIFY_SOURCE = "/binhchon/notify"


class Ceremonies:
    def __init__(self, runtime: Runtime, clock: Callable[[], datetime]) -> None:
        self.rt = runtime
        self.now = clock  # Vietnam's time
        self.deliveries = runtime.db["ceremony_deliveries"]

    async def setup(self) -> None:
        pass  # the indexes of its lists are certification.views'; kept for callers of setup()

    async def schedule(self, round_id: str, title: str, on: date, at: time, place: str, actor: Actor,
                       cause: Cause) -> tuple[dict[str, Any], bool]:
        """The ceremony, and whether this call scheduled it (False: it was scheduled before, same request); with
        ``warnings`` when the invitation or confirmation lead times can no longer be kept."""
        now = self.now()
        rules.check_date(on, at, now)
        stream = rules.ceremony_id(round_id, on, place)
        existing = await self._scheduled(stream)
        if existing is not None:
            rules.same_request(existing, title, at)
            return self._with_warnings(existing, now), False
        docs = await self.rt.db["certificates"].find({"round_id": round_id, "status": certs.VALID}).to_list()
        if not docs:
            raise Refused(f"round {round_id} has no valid certificate to hand over", round_id=round_id)
        scheduled = CeremonyScheduled(ceremony_id=stream, round_id=round_id, title=title, on=on, at=at, place=place,
                                      invitees=rules.invitees(docs, await registrations(self.rt.db, docs)))
        try:
            event = await record(self.rt, stream, 0, scheduled, actor, cause, round_id)
        except (AlreadyRecorded, ConcurrencyConflict):
            existing = await self._scheduled(stream)  # the same request, a moment earlier (a double click)
            assert existing is not None
            rules.same_request(existing, title, at)
            return self._with_warnings(existing, now), False
        return self._with_warnings(event.data, now), True

    @staticmethod
    def _with_warnings(ceremony: dict[str, Any], now: datetime) -> dict[str, Any]:
        warnings = rules.lead_time_warnings(date.fromisoformat(str(ceremony["on"])), now.date(),
                                            ceremony.get("invitation_days_before", 3),
                                            ceremony.get("confirmation_days_before", 1))
        return {**ceremony, "warnings": warnings}

    async def _scheduled(self, stream: str) -> dict[str, Any] | None:
        event = await self.rt.store.get(stream, 1)
        return event.data if event else None

    @staticmethod
    def concerns(event: RecordedEvent) -> bool:
        """Whether notify's delivery is about a ceremony, the only ones kept: from the event alone, so the consumer
        passes the others over without an inbox entry each (ADR 0053)."""
        return event.data.get("about_event_type") == type_of(CeremonyScheduled)

    async def on_notification(self, event: RecordedEvent) -> None:
        """Keep what notify sent about a ceremony. A delivery ends once, but its events may come twice or (sent
        and failed of one delivery, if notify ever wrote both) in any order: sent wins over failed."""
        if event.source != NOTIFY_SOURCE:
            raise PermanentError(f"a {event.type} from {event.source}, not from notify")
        data = event.data
        sent = isinstance(event.model(), NotificationSent)  # else NotificationFailed, the other type handled
        if data["about_event_type"] != type_of(CeremonyScheduled):
            return
        doc = {"_id": data["delivery_id"], "delivery_id": data["delivery_id"], "about_event_id": data["about_event_id"],
               "recipient": data["recipient"],
               "channel": data["channel"], "template": data["template"], "attempts": data["attempts"],
               "status": "sent" if sent else "failed",
               "reason": data.get("reason"), "at": event.time.isoformat()}
        if sent:
            await self.deliveries.replace_one({"_id": doc["_id"]}, doc, upsert=True)
            return
        try:
            await self.deliveries.insert_one(doc)
        except DuplicateKeyError:
            pass  # already known: sent (which a failure must not overwrite) or this same failure again
