"""Every dependency of the four services' routes runs on the event loop: FastAPI calls a plain function in a
worker thread, a hop there and back (and a thread woken) on every request, for what is mostly a lookup on
``app.state``. The pipeline bench found these hops in every request of scoring's profile (py-spy, 2026-11-29)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from certification.main import CertificationSettings
from certification.main import build as build_certification
from intake.main import IntakeSettings
from intake.main import build as build_intake
from notify.main import NotifySettings
from notify.main import build as build_notify
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring


def threaded(dependant: Dependant) -> list[str]:
    """The names of the plain (synchronous) callables among ``dependant``'s dependencies, at any depth."""
    found = []
    for sub in dependant.dependencies:
        call: Any = sub.call
        # a class instance with an async __call__ (HTTPBearer) is awaited on the loop too
        if call is not None and not (inspect.iscoroutinefunction(call)
                                     or inspect.iscoroutinefunction(type(call).__call__)):
            found.append(getattr(call, "__qualname__", repr(call)))
        found += threaded(sub)
    return found


@pytest.mark.timeout(60)
@pytest.mark.parametrize("build", [
    lambda: build_intake(IntakeSettings()), lambda: build_scoring(ScoringSettings()),
    lambda: build_certification(CertificationSettings()), lambda: build_notify(NotifySettings()),
], ids=["intake", "scoring", "certification", "notify"])
def test_no_route_runs_a_dependency_in_a_worker_thread(build: Any) -> None:
    app = build()
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    assert routes
    offenders = {f"{sorted(r.methods)[0]} {r.path}": names for r in routes if (names := threaded(r.dependant))}
    assert offenders == {}
