"""What the end-to-end tests share: the four services in-process on the real broker and store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from binhchon_kit.testing.apps import running
from binhchon_kit.testing.clock import Clock
from binhchon_kit.testing.infra import Infra
from binhchon_kit.testing.mail import Mailbox
from binhchon_kit.testing.personal import intake_keys
from certification.main import CertificationSettings
from certification.main import build as build_certification
from intake.main import IntakeSettings
from intake.main import build as build_intake
from notify.main import NotifySettings
from notify.main import build as build_notify
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring


@contextlib.asynccontextmanager
async def stack(infra: Infra, unique: str, prefix: str, key: str, clock: Clock, mailbox: Mailbox,
                service_token: str, master_key: Path) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Intake, scoring, certification and notify (mailing ``mailbox``), sharing ``clock``; a client for each."""
    common = dict(mongodb_url=infra.mongodb, kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=prefix,
                  auth_public_keys_file=key)
    intake_app = build_intake(IntakeSettings(mongodb_database=f"intake_{unique}",
                                             personal_data_master_key_file=str(master_key), **common), clock=clock)
    apps = {
        "intake": intake_app,
        "notify": build_notify(NotifySettings(mongodb_database=f"notify_{unique}", smtp_host="127.0.0.1",
                                              smtp_port=mailbox.port, notify_poll_seconds=0.2, **common),
                               clock=clock, key_client=intake_keys(intake_app, service_token)),
        # scoring and certification open a household's sealed name and number with keys asked of intake (ADR 0048)
        "scoring": build_scoring(ScoringSettings(mongodb_database=f"scoring_{unique}", **common),
                                 key_client=intake_keys(intake_app, service_token, clock), clock=clock),
        "certification": build_certification(CertificationSettings(mongodb_database=f"certification_{unique}",
                                                                   **common), clock=clock.today, now=clock,
                                             key_client=intake_keys(intake_app, service_token, clock)),
    }
    async with contextlib.AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(running(app, f"http://{name}")) for name, app in apps.items()}


@pytest.fixture
def four_services() -> Callable[..., Any]:
    """``async with four_services(infra, unique, prefix, key, clock, mailbox, service_token, master_key)``."""
    return stack
