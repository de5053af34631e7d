"""Schemathesis against a service's OpenAPI document (issue 13, item 3): the service's app served by uvicorn on
a loopback port, on the test's real FerretDB and Kafka, every operation fuzzed with data that fits the schema and
data that does not, every check of schemathesis on. A failing case is collected (with its curl line), not raised
at once, so that one run names every operation that fails.

Bounded: ``max_examples`` per operation and mode (a few minutes for the four services on two cores)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from binhchon_kit.testing.infra import free_port

# Unknown query parameters are ignored, as HTTP APIs do (FastAPI's behaviour): not generated as invalid data.
# positive_data_acceptance expects 2xx, 401, 403, 404, 409 for data that fits the schema: a 422 is the domain
# refusing what a JSON Schema cannot say (a closing date before the opening one, a name of invisible characters
# only, a file name that is a path), and a 415 an upload's content that is not a PDF, JPEG or PNG by its first bytes
# (docs/adr/0045: a schema's `format: binary` says nothing of them). Every other check runs with schemathesis's own
# expectations.
CONFIG = {"generation": {"allow-extra-parameters": False},
          "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422",
                                                                        "415"]}}}


@dataclass
class FuzzRun:
    operations: int = 0
    cases: int = 0
    failures: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self, service: str) -> dict[str, Any]:
        return {"service": service, "operations": self.operations, "test_cases": self.cases,
                "failing_operations": len(self.failures), "seconds": round(self.seconds, 1)}


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def serving(app: FastAPI, before: Any = None, port: int | None = None, *, ready: bool = False) -> Iterator[str]:
    """``app`` under uvicorn in a thread of its own (its own event loop, lifespan and all); its base URL.
    ``before``: a coroutine function run first in that loop (creating the test's topics). ``port``: one chosen
    before the app was built (an app that must know its own address); default: a free one. ``ready``: wait for
    its ``/readyz`` to answer 200, not only for the server to listen."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on",
                                           access_log=False))
    failed: list[BaseException] = []

    async def main() -> None:
        if before is not None:
            await before()
        await server.serve()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # pragma: no cover - reported below
            failed.append(exc)

    thread = threading.Thread(target=run, name="fuzzed-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while not server.started:
        if failed or not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the service did not start: {failed}")
        time.sleep(0.05)
    # ready too: its consumers join the broker after the server starts, and /readyz answers 503 until then (a
    # service with several consumers per handler takes longer to join); fuzzing one still connecting proves nothing
    while ready and not _ready(port):
        if failed or not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the service did not become ready: {failed}")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def fuzz(base_url: str, bearer: str, *, max_examples: int = 15) -> FuzzRun:
    """Every operation of the service's OpenAPI document, positive and negative cases, every check. ``bearer``:
    the token for the document's bearer scheme, given to schemathesis as the scheme's credentials (so that it
    knows the header is there, and tries the operation without it for ``ignored_auth``)."""
    import schemathesis
    from schemathesis.checks import CHECKS, load_all_checks
    from schemathesis.config import SchemathesisConfig
    from schemathesis.generation.modes import GenerationMode

    load_all_checks()
    checks = CHECKS.get_all()
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=SchemathesisConfig.from_dict(
        {**CONFIG, "auth": {"openapi": {"HTTPBearer": {"bearer": bearer}}}}))
    run = FuzzRun()
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid document fails here, loudly
        run.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures = _fuzz_operation(operation, mode, base_url, checks, max_examples, run)
            if failures:
                run.failures.setdefault(operation.label, []).extend(failures)
    run.seconds = time.monotonic() - started
    return run


def _fuzz_operation(operation: Any, mode: Any, base_url: str, checks: list[Any], max_examples: int,
                    run: FuzzRun) -> list[str]:
    """One operation in one generation mode; the first few failures, as schemathesis words them."""
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def one(case: Any) -> None:
        run.cases += 1
        try:
            case.call_and_validate(base_url=base_url, checks=checks, timeout=30)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup is an exception group
            if len(failures) < 3:
                failures.append(f"{mode}: {type(exc).__name__}: {str(exc)[:1500]}")

    with contextlib.suppress(Unsatisfiable):
        one()
    return failures
