"""The one error a domain raises when its rules refuse a command, and the HTTP answer each kind gets."""

from __future__ import annotations

from typing import Any

HTTP_STATUS = {"conflict": 409, "not_found": 404, "invalid": 422, "forbidden": 403, "gone": 410, "too_large": 413,
               "unsupported_media_type": 415}


class Refused(Exception):
    """A command the rules refuse. ``kind``: conflict (409, e.g. an illegal transition, naming the current
    state), not_found (404), invalid (422, naming the field or listing the problems), forbidden (403), gone
    (410: erased for good), too_large (413), unsupported_media_type (415: an upload's content)."""

    def __init__(self, message: str, *, kind: str = "conflict", **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.detail = detail

    @property
    def status(self) -> int:
        return HTTP_STATUS.get(self.kind, 409)


class NotYetHeard(Exception):
    """What the call needs comes from another service's events and has not arrived yet (a consumer catching up,
    after a restore or a lag): 503 with Retry-After, naming that service in ``dependency``; nothing was done.
    Distinct from a refusal: the same call succeeds once the event has arrived."""

    def __init__(self, message: str, *, dependency: str) -> None:
        super().__init__(message)
        self.message = message
        self.dependency = dependency


class UnderWay(Exception):
    """The same command is being carried out already, under a lease another request (or a process since dead)
    holds: 503 with Retry-After ``retry_after`` seconds, when the lease is over at the latest. Distinct from a
    conflict: nothing is refused, and the same call asked again then completes it or answers what was done."""

    def __init__(self, message: str, *, retry_after: int, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = max(1, retry_after)
        self.detail = detail
