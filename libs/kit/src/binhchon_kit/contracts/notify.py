"""Events the notify service writes to ``notify.events``: the outcome of every delivery attempt's end.
Subject: the dossier id the message is about (the round id for round-wide messages)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from binhchon_kit.contracts.common import Text
from binhchon_kit.contracts.registry import EventData, registered

TOPIC = "notify.events"


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


@registered("notification.sent", topic=TOPIC)
class NotificationSent(EventData):
    """A message reached its recipient's channel (the SMTP server accepted it, the webhook answered 2xx)."""

    delivery_id: str
    about_event_id: str
    about_event_type: Text
    recipient: Text
    channel: Channel
    template: Text
    attempts: int = Field(ge=1)


@registered("notification.failed", topic=TOPIC)
class NotificationFailed(EventData):
    """A message could not be delivered after every allowed attempt; the reason of the last one."""

    delivery_id: str
    about_event_id: str
    about_event_type: Text
    recipient: Text
    channel: Channel
    template: Text
    attempts: int = Field(ge=1)
    reason: Text
