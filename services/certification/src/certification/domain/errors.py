from __future__ import annotations

from typing import Any


class Refused(Exception):
    """A command the rules refuse. ``kind``: conflict (409), not_found (404), invalid (422), forbidden (403)."""

    def __init__(self, message: str, *, kind: str = "conflict", **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.detail = detail
