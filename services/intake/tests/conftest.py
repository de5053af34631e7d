from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.infra import Infra
from binhchon_kit.testing.samples import dossier_body
from binhchon_kit.testing.samples import round_body as sample_round_body
from intake.main import IntakeSettings, build
from intake.service import Clock

# The service's clock in these tests: 23:26 UTC on 22/11 is 06:26 on 23/11 in Hà Nội, the hour at which a
# machine-clock date and Vietnam's date disagree. Nothing here reads the machine's clock.
NOW = datetime(2026, 11, 22, 23, 26, tzinfo=UTC)
TODAY = date(2026, 11, 23)  # NOW's date in Vietnam


class FixedClock:
    """The instant the service takes as now; a test may move it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def round_body(code: str, today: date = TODAY, **over: Any) -> dict[str, Any]:
    """A round whose submission window holds the service's today (not the machine's)."""
    body = sample_round_body(code, **over)
    body["year"] = over.get("year", today.year)
    body["schedule"] = over.get("schedule", {
        "submission_opens": (today - timedelta(days=10)).isoformat(),
        "submission_closes": (today + timedelta(days=30)).isoformat(),
        "council_date": (today + timedelta(days=60)).isoformat()})
    return body


def intake_settings(infra: Infra, unique: str, prefix: str, public_key: str, **over: Any) -> IntakeSettings:
    return IntakeSettings(mongodb_url=infra.mongodb, mongodb_database=f"intake_{unique}",
                          kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=prefix,
                          auth_public_keys_file=public_key, **over)


def running_intake(settings: IntakeSettings, clock: Clock | None = None
                   ) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
    return running(build(settings, clock or FixedClock()), "http://intake")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def intake(infra: Infra, unique: str, topic_prefix: str, dev_keys: Any, clock: FixedClock, auth: Any
                 ) -> AsyncIterator[httpx.AsyncClient]:
    async with running_intake(intake_settings(infra, unique, topic_prefix, str(dev_keys[1])), clock) as client:
        # the sample dossier's documents, stored as any applicant's upload stores them (ADR 0045)
        await upload_documents(client, auth("sample-uploader", "applicant"))
        yield client


__all__ = ["NOW", "TODAY", "FixedClock", "dossier_body", "intake_settings", "round_body", "running_intake",
           "upload_documents"]
