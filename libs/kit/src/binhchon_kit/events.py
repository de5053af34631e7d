"""Events as the store records them, and their CloudEvents form."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import binhchon_kit.contracts  # noqa: F401  (registers every event type, so any stored type name reads)
from binhchon_kit.canonical import HASH_ALG, LEGACY_HASH_ALG, chain_hash, cloudevent_hash
from binhchon_kit.contracts.registry import EventData, event_model, registration_of
from binhchon_kit.envelope import SPEC_VERSION, CloudEvent, format_time, schema_uri

# uuid5 namespace for ids that must come out the same when a handler runs twice.
BINHCHON_NS = uuid.UUID("6f1c8a52-3d7e-4c1b-9f0e-2b5d9a7c4e10")


def deterministic_id(*parts: str) -> str:
    """An id derived from its parts: the same inputs give the same id, so a repeated effect collides."""
    return str(uuid.uuid5(BINHCHON_NS, "\x1f".join(parts)))


@dataclass(frozen=True)
class Actor:
    """Who did it: the token's subject and roles (``system:<service>`` for what a service does by itself)."""

    id: str
    roles: tuple[str, ...] = ()

    @classmethod
    def system(cls, service: str) -> Actor:
        return cls(id=f"system:{service}", roles=("system",))

    def as_document(self) -> dict[str, Any]:
        """The actor as events (hashed and stored) and leases keep it."""
        return {"id": self.id, "roles": list(self.roles)}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Actor:
        return cls(doc["id"], tuple(doc["roles"]))


@dataclass(frozen=True)
class Cause:
    """Why and from what: the correlation id of the whole flow and the id of the event or request that caused it."""

    correlation_id: str
    causation_id: str

    @classmethod
    def of(cls, event: RecordedEvent) -> Cause:
        return cls(correlation_id=event.correlation_id, causation_id=event.id)


@dataclass(frozen=True)
class NewEvent:
    """An event a decision produced, not yet stored. Its class is its type: an unregistered class fails here,
    before anything is written."""

    data: EventData
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        registration_of(type(self.data))

    @property
    def type(self) -> str:
        """The type name on the wire, from the data's class."""
        return registration_of(type(self.data)).type

    @property
    def schema_version(self) -> int:
        return registration_of(type(self.data)).schema_version


@dataclass(frozen=True)
class RecordedEvent:
    id: str
    stream: str
    version: int
    type: str
    schema_version: int
    subject: str
    time: datetime
    data: dict[str, Any]
    actor: Actor
    correlation_id: str
    causation_id: str
    source: str
    prev_hash: str
    hash: str
    hash_alg: str = LEGACY_HASH_ALG  # how ``hash`` was computed (canonical.py); what a stored event lacks: legacy

    def hashed_content(self) -> dict[str, Any]:
        """What the legacy scheme hashes: the store's field names."""
        return hashed_content(
            id=self.id, stream=self.stream, version=self.version, type=self.type,
            schema_version=self.schema_version, subject=self.subject, time=self.time, data=self.data,
            actor=self.actor, correlation_id=self.correlation_id, causation_id=self.causation_id,
            source=self.source,
        )

    def computed_hash(self) -> str | None:
        """The hash this event's content and ``prev_hash`` give under its scheme (None: a scheme unknown here)."""
        if self.hash_alg == HASH_ALG:
            return cloudevent_hash(self.cloudevent_json())
        if self.hash_alg == LEGACY_HASH_ALG:
            return chain_hash(self.prev_hash, self.hashed_content())
        return None

    def verify_hash(self) -> bool:
        return self.computed_hash() == self.hash

    def sealed(self) -> RecordedEvent:
        """This event hashed under the current scheme: how a store records a new event (one built with
        ``hash_alg=HASH_ALG`` and ``hash=""`` is hashed as it is, without a copy first)."""
        unsealed = self if (self.hash_alg, self.hash) == (HASH_ALG, "") else replace(self, hash_alg=HASH_ALG, hash="")
        hash_ = cloudevent_hash(unsealed.cloudevent_json())
        # The sealed copy built as the codec builds events (eventstore_codec.row_event): ``replace`` would run the
        # frozen dataclass's __init__, one object.__setattr__ per field, a fifth of what sealing cost an append.
        sealed: RecordedEvent = object.__new__(RecordedEvent)
        sealed.__dict__.update(unsealed.__dict__, hash=hash_)
        return sealed

    def model(self) -> EventData:
        """The typed data of this event: an instance of the class its type name is registered with, so code
        dispatches on the class (``match event.model(): case DossierAccepted(): ...``). Read once, then kept."""
        cached: EventData | None = self.__dict__.get("_model")
        if cached is None:
            cached = event_model(self.type).model.model_validate(self.data)
            self.__dict__["_model"] = cached  # a cache, not a field: equality and the hash chain ignore it
        return cached

    def cloudevent_json(self) -> dict[str, Any]:
        """The CloudEvent as the JSON object published (what ``to_cloudevent().to_json()`` gives, built directly:
        the hash of every event appended or verified is computed from it)."""
        value: dict[str, Any] = {
            "specversion": SPEC_VERSION, "id": self.id, "source": self.source, "type": self.type,
            "subject": self.subject, "time": format_time(self.time), "datacontenttype": "application/json",
            "dataschema": schema_uri(self.type, self.schema_version), "data": self.data,
            "correlationid": self.correlation_id, "causationid": self.causation_id, "actorid": self.actor.id,
            "actorroles": ",".join(self.actor.roles), "streamid": self.stream, "streamversion": self.version,
            "prevhash": self.prev_hash,
        }
        if self.hash_alg != LEGACY_HASH_ALG:
            value["hashalg"] = self.hash_alg
        value["hash"] = self.hash
        return value

    def to_cloudevent(self) -> CloudEvent:
        return CloudEvent(**self.cloudevent_json())

    @classmethod
    def from_cloudevent(cls, event: CloudEvent) -> RecordedEvent:
        return cls(
            id=event.id, stream=event.streamid, version=event.streamversion, type=event.type,
            schema_version=int(event.dataschema.rsplit("/v", 1)[-1].removesuffix(".json")),
            subject=event.subject, time=datetime.fromisoformat(event.time), data=event.data,
            actor=Actor(event.actorid, tuple(r for r in event.actorroles.split(",") if r)),
            correlation_id=event.correlationid, causation_id=event.causationid, source=event.source,
            prev_hash=event.prevhash, hash=event.hash, hash_alg=event.hashalg or LEGACY_HASH_ALG,
        )


def hashed_content(
    *, id: str, stream: str, version: int, type: str, schema_version: int, subject: str, time: datetime,
    data: dict[str, Any], actor: Actor, correlation_id: str, causation_id: str, source: str,
) -> dict[str, Any]:
    """Everything about an event that the hash chain covers (all but the hashes and the publication mark)."""
    return {
        "id": id, "stream": stream, "version": version, "type": type, "schema_version": schema_version,
        "subject": subject, "time": format_time(time), "data": data,
        "actor": actor.as_document(),
        "correlation_id": correlation_id, "causation_id": causation_id, "source": source,
    }
