"""A service's way to intake's key store in in-process tests (ADR 0035): the key client over the intake app
itself, with a token bearing the role ``service``, through intake's routes and access policy as over the network."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from binhchon_kit.personal import MasterKey
from binhchon_kit.personal_keys import KeyClient


def intake_keys(intake_app: FastAPI, service_token: str, clock: Callable[[], datetime] | None = None) -> KeyClient:
    """``clock``: the test's, which its keys' time in the cache is measured by (default: the machine's)."""
    if clock is None:
        return KeyClient("http://intake", lambda: service_token, transport=httpx.ASGITransport(app=intake_app))
    return KeyClient("http://intake", lambda: service_token, transport=httpx.ASGITransport(app=intake_app),
                     clock=lambda: clock().timestamp())


def master_key_in(directory: Path) -> Path:
    """A new personal-data master key file for a test's intake (ADR 0035)."""
    return MasterKey.write_new(directory / "personal-data-master.key")


async def household_accepted(intake: httpx.AsyncClient, round_id: str, name: str, number: str,
                             applicant: dict[str, str], secretariat: dict[str, str]) -> str:
    """A household business's dossier (its name and number sealed, ADR 0048) filed by ``applicant`` and accepted
    by ``secretariat``: its id."""
    from binhchon_kit.testing.documents import upload_documents
    from binhchon_kit.testing.samples import dossier_body

    body: dict[str, Any] = dossier_body(product="Chè Tân Cương", regno=number)
    body["producer"].update(kind="household", name=name)
    await upload_documents(intake, applicant)
    r = await intake.post(f"/rounds/{round_id}/dossiers", json=body, headers=applicant)
    assert r.status_code == 201, r.text
    dossier_id: str = r.json()["dossier_id"]
    r = await intake.post(f"/dossiers/{dossier_id}/accept", headers=secretariat,
                          json={"product_group": "thực phẩm", "sample_code": "TP-01"})
    assert r.status_code == 201, r.text
    return dossier_id
