"""The event contract: one frozen pydantic model per event type, registered with its type name and schema
version. A breaking change is a new schema version (a new model), never an edit of a published one."""

# importing the modules registers the event types
from binhchon_kit.contracts import certification, intake, ledger, log, notify, samples, scoring  # noqa: F401
from binhchon_kit.contracts.registry import (
    EventData,
    UnknownEventType,
    event_model,
    event_types,
    registered,
    registration_of,
    type_of,
)

__all__ = ["EventData", "UnknownEventType", "event_model", "event_types", "registered", "registration_of", "type_of"]
