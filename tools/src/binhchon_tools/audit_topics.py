"""The service topics as the audit reads them: signed in as the read-only auditor, from their earliest offsets up
to where they ended when the read began (binhchon_kit.topic_history says how).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from binhchon_kit import topic_history as history
from binhchon_kit.principals import AUDITOR, client_options
from binhchon_kit.topic_history import Record
from binhchon_kit.topics import SERVICE_TOPICS


def service_topics(prefix: str = "", topics: list[str] | None = None) -> list[str]:
    return [prefix + t for t in (topics or SERVICE_TOPICS)]


def unprefixed(topic: str, prefix: str) -> str:
    return topic.removeprefix(prefix)


def read_records(bootstrap: str, topics: list[str], *, batch_records: int = 5000,
                 on_start: Callable[[int], None] | None = None,
                 on_missing: Callable[[str], None] | None = None) -> AsyncIterator[list[Record]]:
    """Every record of ``topics``, in batches, read as the auditor (KAFKA_SASL_* or KAFKA_CREDENTIALS_DIR):
    read-only on the broker (docs/adr/0031)."""
    return history.read_records(bootstrap, topics, client_options(AUDITOR), batch_records=batch_records,
                                on_start=on_start, on_missing=on_missing)
