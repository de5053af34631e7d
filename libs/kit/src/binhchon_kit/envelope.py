"""The CloudEvents 1.0 structured JSON envelope every binhchon event travels in.

Extension attributes (CloudEvents allows only lowercase letters and digits in their names):
``correlationid``, ``causationid``, ``actorid``, ``actorroles``, ``streamid``, ``streamversion``,
``prevhash``, ``hashalg`` (absent on events recorded before it, hashed the legacy way), ``hash``, and
``signature`` and ``signaturekid`` (the producing service's Ed25519 signature over ``hash``, added by the relay,
not hashed: binhchon_kit.trust). The Kafka key
is ``subject`` (the dossier id; the round id for round events). Other extension attributes an event picks up on
its way (``traceparent``, …) are accepted and kept, and are not hashed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SPEC_VERSION = "1.0"
SCHEMA_BASE = "https://schemas.binhchon.vn/events"


def schema_uri(event_type: str, schema_version: int) -> str:
    return f"{SCHEMA_BASE}/{event_type}/v{schema_version}.json"


def to_milliseconds(moment: datetime) -> datetime:
    """``moment`` in UTC, truncated to milliseconds: MongoDB keeps milliseconds, and an event's hash (which covers
    its time) must survive a round trip."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def utc_now() -> datetime:
    """The machine's now, truncated to milliseconds: for the store's own bookkeeping (segments written), never an
    event's time, which is the service's clock's (the store's ``clock``)."""
    return to_milliseconds(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CloudEvent(BaseModel):
    """One event as integrators see it on a topic."""

    # extra="allow": CloudEvents lets any hop add extension attributes (traceparent); a consumer keeps, not refuses
    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: str = Field(description="CloudEvents specification version: 1.0")
    id: str
    source: str
    type: str
    subject: str
    time: str
    datacontenttype: str = "application/json"
    dataschema: str
    data: dict[str, Any]
    correlationid: str
    causationid: str
    actorid: str
    actorroles: str = Field(description="the actor's roles, comma-separated")
    streamid: str
    streamversion: int
    prevhash: str
    hashalg: str | None = Field(default=None, description="the hash scheme; absent: the legacy one")
    hash: str
    signature: str | None = Field(default=None, description="the producer's Ed25519 signature over hash")
    signaturekid: str | None = Field(default=None, description="the id of the key that made signature")

    def to_json(self) -> dict[str, Any]:
        """The event as the JSON object published (no ``hashalg`` on a legacy event, no ``signature`` on an event
        not yet signed: absent, not even null)."""
        value = self.model_dump()
        for optional in ("hashalg", "signature", "signaturekid"):
            if value[optional] is None:
                del value[optional]
        return value

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> CloudEvent:
        return cls.model_validate_json(raw)
