"""The service topics as the audit reads them: signed in as the read-only auditor, from their earliest offsets up
to where they ended when the read began (binhchon_kit.topic_history says how).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from binhchon_kit import topic_history as history
from binhchon_kit.principals import AUDITOR, client_options, sign_in
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


TopicReader: Any
try:  # the compiled reader (ADR 0059); without it aiokafka reads, as before
    from binhchon_audit_core import TopicReader
except ImportError:  # pragma: no cover - an install built without the Rust toolchain
    TopicReader = None

# BINHCHON_AUDIT_READER=aiokafka: the topics read by aiokafka even where the compiled reader is built
READER_SETTING = "BINHCHON_AUDIT_READER"


def compiled_reading() -> bool:
    """Whether ``compiled_reader`` reads: the compiled module is built, and aiokafka was not asked for."""
    return TopicReader is not None and os.environ.get(READER_SETTING, "") != "aiokafka"


def compiled_reader(bootstrap: str, topics: list[str]) -> Any:
    """The compiled reader of the same records, signed in the same way (``binhchon_audit_core.TopicReader``,
    docs/adr/0059, 2026-12-01 evening), or None: not built, or aiokafka asked for."""
    if not compiled_reading():
        return None
    given = sign_in(AUDITOR)
    return TopicReader([b.strip() for b in bootstrap.split(",") if b.strip()], topics,
                       given.username or None, given.password if given.username else None,
                       Path(given.ca_file).read_bytes() if given.ca_file else None)
