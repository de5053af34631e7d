"""Server-side sessions, in this process's memory (ADR 0049): the cookie carries a random id only; the bearer
token, the person and the CSRF token stay here. One replica: a restart signs everyone out, which is all it costs."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COOKIE = "binhchon_phien"


@dataclass
class Session:
    id: str
    expires: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    subject: str = ""
    name: str = ""
    roles: tuple[str, ...] = ()
    access_token: str = ""
    # the sign-in under way: state, nonce and PKCE verifier, until the provider sends the person back
    pending: dict[str, Any] = field(default_factory=dict)
    flash: str = ""
    # the check code of a receipt filed in this session: intake says it once, in its answer to the filing, and the
    # receipt page prints it; a receipt printed later in another session goes without it (the first print has it)
    check_codes: dict[str, str] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return bool(self.access_token)

    def csrf_ok(self, given: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), given.encode())


# A session is made for every visitor without a cookie (the CSRF token of the sign-in form lives in it): one not
# signed in lives a short while only, and past the cap the oldest of those go first, so that requests without
# cookies cannot fill the memory; a signed-in person's session lives its full time.
ANONYMOUS_SECONDS = 15 * 60
MAX_SESSIONS = 20_000
SWEEP_ABOVE = 1024


class Sessions:
    def __init__(self, minutes: int, clock: Callable[[], float] = time.monotonic,
                 max_sessions: int = MAX_SESSIONS) -> None:
        self.ttl = minutes * 60
        self.clock = clock
        self.max_sessions = max_sessions
        self._by_id: dict[str, Session] = {}

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._by_id.get(session_id)
        if session is None or session.expires < self.clock():
            self._by_id.pop(session_id, None)
            return None
        return session

    def new(self) -> Session:
        self._sweep()
        session = Session(id=secrets.token_urlsafe(32), expires=self.clock() + min(self.ttl, ANONYMOUS_SECONDS))
        self._by_id[session.id] = session
        return session

    def signed_in(self, old: Session, *, subject: str, name: str, roles: tuple[str, ...], access_token: str) -> Session:
        """A fresh id at sign-in (a session id known before it is worthless after), the old one dropped."""
        self.drop(old)
        session = self.new()
        session.subject, session.name, session.roles, session.access_token = subject, name, roles, access_token
        session.expires = self.clock() + self.ttl
        return session

    def drop(self, session: Session) -> None:
        self._by_id.pop(session.id, None)

    def __len__(self) -> int:
        return len(self._by_id)

    def _sweep(self) -> None:
        if len(self._by_id) <= SWEEP_ABOVE:
            return
        now = self.clock()
        for key in [k for k, s in self._by_id.items() if s.expires < now]:
            del self._by_id[key]
        if len(self._by_id) >= self.max_sessions:  # oldest first: the dict keeps the order they were made in
            excess = len(self._by_id) - self.max_sessions + 1
            for key in [k for k, s in self._by_id.items() if not s.signed_in][:excess]:
                del self._by_id[key]
