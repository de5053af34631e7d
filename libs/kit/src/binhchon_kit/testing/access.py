"""The access matrix: every operation of a service's OpenAPI document called as no one, as every role, and as an
owner and a non-owner of the resource, each answer compared with the operation's declared policy
(``x-binhchon-access``, ADR 0030). What the caller may do is judged by the status alone: 401 for no one, 403 for
a role or a resource not allowed, and anything but 401/403 for a caller let through (a 404, 409 or 422 of the
operation itself means the gate was passed)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from binhchon_kit.auth.policy import ACCESS_EXTENSION, NARROWED
from binhchon_kit.auth.roles import Role

DENIED = {401, 403}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the OpenAPI path, with {params}
    access: Mapping[str, Any] | None  # the declaration; None: undeclared (a failure by itself)

    def url(self, params: Mapping[str, str]) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: params.get(m.group(1), f"unknown-{m.group(1)}"), self.path)


@dataclass(frozen=True)
class Caller:
    label: str  # what the matrix row says: "no one", "judge (stranger)", "judge (owner of own panel)"
    subject: str | None
    role: Role | None
    owner: bool = False
    authorities: tuple[str, ...] = ()  # an approver's claim (ADR 0029)


@dataclass(frozen=True)
class Cell:
    operation: Operation
    caller: Caller
    expected: str  # "401", "403" or "through"
    status: int

    @property
    def holds(self) -> bool:
        if self.expected == "through":
            return self.status not in DENIED
        return self.status == int(self.expected)


def operations(document: Mapping[str, Any]) -> list[Operation]:
    """Every operation of the document, reads first (so a command's effect cannot change what a read answers)."""
    found = [Operation(method.upper(), path, op.get(ACCESS_EXTENSION))
             for path, ops in document.get("paths", {}).items() for method, op in ops.items()]
    return sorted(found, key=lambda o: (o.method != "GET", o.path, o.method))


Owner = str | tuple[str, tuple[str, ...]]  # a subject, or a subject with the authorities its token names


def callers(operation: Operation, owners: Mapping[str, Mapping[Role, Owner]]) -> Iterator[Caller]:
    """No one, a stranger of every role, and for each role the operation scopes to "own …" resources, the
    owner ``owners[scope][role]`` names (a scope's owners come from the test's world)."""
    yield Caller("no one", None, None)
    for role in Role:
        yield Caller(f"{role.value} (stranger)", f"stranger-{role.value}", role)
    rules = (operation.access or {}).get("roles", {})
    for role_name, scope in rules.items():
        if scope == "any":
            continue
        owner = owners.get(scope, {}).get(Role(role_name))
        if owner is not None:
            subject, authorities = (owner, ()) if isinstance(owner, str) else owner
            yield Caller(f"{role_name} (owner of {scope})", subject, Role(role_name), owner=True,
                         authorities=authorities)


def expected(operation: Operation, caller: Caller) -> str:
    access = operation.access or {}
    if access.get("public"):
        return "through"
    if caller.role is None:
        return "401"
    rules: Mapping[str, str] = access.get("roles", {})
    scope = rules.get(caller.role.value)
    if scope is None:
        reaches_any = any(_reaches_any(s) for s in rules.values())
        return "through" if caller.role is Role.ADMIN and reaches_any else "403"
    return "through" if _reaches_any(scope) or caller.owner else "403"


def _reaches_any(scope: str) -> bool:
    # a scope the service narrows (each caller's own list; another's item absent) lets the role through the gate
    return scope == "any" or scope.endswith(NARROWED)


Call = Callable[[Operation, Caller], Awaitable[int]]


async def matrix(document: Mapping[str, Any], owners: Mapping[str, Mapping[Role, Owner]], call: Call
                 ) -> list[Cell]:
    """Every operation × caller, called through ``call`` (which answers the status)."""
    cells = []
    for operation in operations(document):
        for caller in callers(operation, owners):
            cells.append(Cell(operation, caller, expected(operation, caller), await call(operation, caller)))
    return cells
