from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from binhchon_kit.testing.apps import running
from binhchon_kit.testing.infra import Infra
from binhchon_kit.testing.samples import dossier_body, round_body
from intake.main import IntakeSettings, build


def intake_settings(infra: Infra, unique: str, prefix: str, public_key: str, **over: Any) -> IntakeSettings:
    return IntakeSettings(mongodb_url=infra.mongodb, mongodb_database=f"intake_{unique}",
                          kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=prefix,
                          auth_public_keys_file=public_key, **over)


def running_intake(settings: IntakeSettings) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
    return running(build(settings), "http://intake")


@pytest.fixture
async def intake(infra: Infra, unique: str, topic_prefix: str, dev_keys: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with running_intake(intake_settings(infra, unique, topic_prefix, str(dev_keys[1]))) as client:
        yield client



__all__ = ["dossier_body", "intake_settings", "round_body", "running_intake"]
