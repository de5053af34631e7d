"""Who may call a route, and on which resources: declared once, beside the route, and enforced by the declaration
itself (ADR 0030).

A route names its caller with a parameter typed by a policy (``who: Judge`` where
``Judge = Annotated[Principal, allow({Role.JUDGE: ON_PANEL, Role.COUNCIL_CHAIR: ON_PANEL})]``) or, for a route
that needs no token, ``dependencies=[PUBLIC]``. The policy is the FastAPI dependency that checks the caller, so
what is declared is what runs. It is checked before the request's body is read: a caller without the role gets
403 whatever they sent, and a caller outside the resource (not on the dossier's panel, not the recipient) gets 403
before anything is looked up for them.

Every operation's declaration is published in the service's OpenAPI document as ``x-binhchon-access``
(``{"public": true}`` or ``{"roles": {"judge": "own panel", "secretariat": "any", …}}``), and the access matrix
test (``binhchon_kit.testing.access``) calls every operation as every role, as no one, and as an owner and a
non-owner, and compares the answers with it; an operation without a declaration fails that test.

``admin`` passes a policy that is not named in where some role it names reaches any resource (as it always passed
role checks), and no policy that is open only to owners: an admin runs the system, it does not score, close or
propose as if it sat on the panel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from binhchon_kit.auth.fastapi import current_principal
from binhchon_kit.auth.roles import Role
from binhchon_kit.auth.tokens import Principal

ACCESS_EXTENSION = "x-binhchon-access"

OwnerCheck = Callable[[Request, Principal], Awaitable[bool]]


@dataclass(frozen=True)
class Scope:
    """Which resources a role reaches through a route: ``any``, or the ones ``owns`` says the caller owns."""

    name: str
    owns: OwnerCheck | None = None


ANY = Scope("any")
# A scope the service enforces by narrowing its answer (a list shows only the caller's; another's item reads as
# absent, 404) rather than by refusing: the gate lets the role through, and the declaration says so.
NARROWED = " (others' read as absent)"


def narrowed(name: str) -> Scope:
    return Scope(name + NARROWED)


@dataclass(frozen=True)
class Policy:
    rules: Mapping[Role, Scope]  # empty: public

    @property
    def public(self) -> bool:
        return not self.rules

    def describe(self) -> dict[str, Any]:
        if self.public:
            return {"public": True}
        return {"roles": {role.value: scope.name for role, scope in self.rules.items()}}


def allow(rules: Mapping[Role, Scope] | Role, *more: Role) -> Any:
    """The dependency that lets through callers holding a role of ``rules`` on the resources its scope names.

    ``allow(Role.A, Role.B)`` is shorthand for both on ``ANY``."""
    if isinstance(rules, Role):
        rules = {role: ANY for role in (rules, *more)}
    policy = Policy(dict(rules))
    named = ", ".join(role.value for role in policy.rules)

    async def check(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        held = [role for role in policy.rules if principal.has(role)]
        if not held and not principal.has(Role.ADMIN):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs one of the roles: {named}")
        # an admin not named passes as one of the roles that reach any resource; a route open only to owners
        # (a panel's members, a dossier's applicant) is not theirs
        scopes = [policy.rules[role] for role in held] or [s for s in policy.rules.values() if s.owns is None]
        if not scopes:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this is for {named} acting on their own only")
        if any(scope.owns is None for scope in scopes):
            return principal
        for scope in scopes:
            if scope.owns is not None and await scope.owns(request, principal):
                return principal
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "this is open to " + " or ".join(sorted({s.name for s in scopes})) + " only")

    check.policy = policy  # type: ignore[attr-defined]
    return Depends(check)


async def _public() -> None:
    """No token needed."""


_public.policy = Policy({})  # type: ignore[attr-defined]
PUBLIC: Any = Depends(_public)


def route_policy(route: Any) -> Policy | None:
    """The policy a route declared, found among its dependencies; None when it declared none."""
    found: list[Policy] = []

    def walk(dependant: Dependant) -> None:
        for sub in dependant.dependencies:
            policy = getattr(sub.call, "policy", None)
            if isinstance(policy, Policy):
                found.append(policy)
            walk(sub)

    dependant = getattr(route, "dependant", None)
    if dependant is not None:
        walk(dependant)
    distinct = {id(p): p for p in found}
    if len(distinct) > 1:
        raise ValueError(f"{route.path} {sorted(route.methods)} declares more than one access policy")
    return next(iter(distinct.values()), None)


def api_routes(routes: Sequence[Any]) -> Iterator[Any]:
    """Every API route of an app, those of included routers too (FastAPI includes them lazily), each with the
    path it answers at (``path_format``) and its ``dependant``."""
    for route in iter_route_contexts(routes):
        if isinstance(route.original_route, APIRoute):
            yield route


def declare_access(document: dict[str, Any], routes: Sequence[Any]) -> None:
    """Write each operation's declared policy into an OpenAPI document, as ``x-binhchon-access``."""
    for route in api_routes(routes):
        if not route.include_in_schema:
            continue
        policy = route_policy(route)
        operations = document.get("paths", {}).get(route.path_format, {})
        for method in route.methods:
            operation = operations.get(method.lower())
            if operation is not None and policy is not None:
                operation[ACCESS_EXTENSION] = policy.describe()
