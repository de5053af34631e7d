"""Schemathesis against each service's OpenAPI document, on the real FerretDB and Kafka (issue 13, item 3): no
answer is a 5xx, every answer is declared and matches its declared schema, with every check of schemathesis on.

The token holds every role (admin included), so that the fuzzer reaches what is behind the role checks; the
unauthenticated side is schemathesis's ``ignored_auth`` check. The services' clocks are fixed: nothing here reads
the machine's. Counts are printed as a JSON line per service (run with ``-s`` to see them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from binhchon_kit.auth.devtoken import mint
from binhchon_kit.auth.roles import Role
from binhchon_kit.testing.fuzz import fuzz, serving
from binhchon_kit.topics import all_topics, ensure_topics

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 23, 26, tzinfo=UTC)  # 06:26 on 23/11 in Hà Nội
TODAY = date(2026, 11, 23)
MAX_EXAMPLES = 8


def _common(infra: Any, unique: str, service: str, key: str) -> dict[str, Any]:
    return {"mongodb_url": infra.mongodb, "mongodb_database": f"fuzz_{service}_{unique}",
            "kafka_bootstrap_servers": infra.kafka, "kafka_topic_prefix": f"f{unique}.",
            "auth_public_keys_file": key, "log_level": "WARNING"}


def intake_app(common: dict[str, Any]) -> FastAPI:
    from intake.main import IntakeSettings, build

    return build(IntakeSettings(**common), lambda: NOW)


def scoring_app(common: dict[str, Any]) -> FastAPI:
    from scoring.main import ScoringSettings, build

    return build(ScoringSettings(**common))


def certification_app(common: dict[str, Any]) -> FastAPI:
    from certification.main import CertificationSettings, build

    return build(CertificationSettings(**common), clock=lambda: TODAY, now=lambda: NOW)


def notify_app(common: dict[str, Any]) -> FastAPI:
    from notify.main import NotifySettings, build

    return build(NotifySettings(**common), clock=lambda: NOW)


APPS: dict[str, Callable[[dict[str, Any]], FastAPI]] = {
    "intake": intake_app, "scoring": scoring_app, "certification": certification_app, "notify": notify_app}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("service", list(APPS))
def test_no_5xx_and_every_answer_as_declared(service: str, infra: Any, dev_keys: Any, unique: str) -> None:
    common = _common(infra, unique, service, str(dev_keys[1]))
    token = mint(dev_keys[0].read_bytes(), subject="fuzzer", roles=[r.value for r in Role], hours=1)

    async def topics() -> None:
        await ensure_topics(infra.kafka, all_topics(common["kafka_topic_prefix"]), partitions=1)

    with serving(APPS[service](common), before=topics, ready=True) as base_url:
        run = fuzz(base_url, token, max_examples=MAX_EXAMPLES)
    print(json.dumps(run.line(service)))
    assert run.operations > 3 and run.cases > run.operations
    assert not run.failures, "\n\n".join(f"{op}:\n" + "\n".join(found) for op, found in run.failures.items())
