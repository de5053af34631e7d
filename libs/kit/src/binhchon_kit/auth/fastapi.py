"""FastAPI dependencies: the caller's principal from the bearer token, and role requirements."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from binhchon_kit.auth.roles import Role
from binhchon_kit.auth.tokens import InvalidToken, Principal

log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False, description="a JWT signed by a configured key")


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """On the event loop: a synchronous dependency costs every request a hop to a worker thread and back. Only
    a verifier that may fetch a JWKS over the network (blocking) is left to a thread."""
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        verifier = request.app.state.runtime.verifier
        if verifier.jwks_client is not None:
            return await run_in_threadpool(verifier.verify, credentials.credentials)
        return verifier.verify(credentials.credentials)  # type: ignore[no-any-return]
    except InvalidToken as exc:
        # which check failed is for the log, not for the caller (it would guide a forger)
        log.info("bearer token refused: %s", exc)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid token",
                            headers={"WWW-Authenticate": "Bearer"}) from exc


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through only callers holding one of ``roles`` (admin always passes), on any
    resource: ``allow(*roles)`` of ``binhchon_kit.auth.policy``, which declares it too."""
    from binhchon_kit.auth.policy import allow

    return allow(*roles).dependency  # type: ignore[no-any-return]
