"""Intake away, for the readers of a household's sealed copies (ADR 0048): a key client pointed at a port nothing
listens on (intake stopped), and a copy sealed with a key only intake would hold."""

from __future__ import annotations

import os
import socket
from typing import Any

from binhchon_kit.personal import copy_sealed, new_kid, seal
from binhchon_kit.personal_keys import KeyClient


def closed_port() -> int:
    """A local port free a moment ago and closed now: connecting is refused, as with intake stopped."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def key_client_of_stopped_intake() -> KeyClient:
    return KeyClient(f"http://127.0.0.1:{closed_port()}", lambda: "a service token")


def sealed_copy(value: str, *, source_event: str = "evt-received", path: str = "producer.name") -> dict[str, Any]:
    """``value`` sealed by intake in ``source_event`` at ``path``, as a later event carries it (``SealedCopy``)."""
    sealed = seal(os.urandom(32), new_kid(), value, event_id=source_event, path=path)
    return copy_sealed(sealed, event_id=source_event, path=path)
