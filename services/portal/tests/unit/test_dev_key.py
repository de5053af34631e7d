"""The development sign-in reads the dev key from disk once, at the first sign-in, not at every one."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import jwt
import pytest

from binhchon_kit.auth.devtoken import ensure_keys
from portal.main import PortalSettings, build
from portal.sessions import COOKIE


async def test_the_dev_key_is_read_once_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINHCHON_DEV_KEYS", str(tmp_path / "dev"))
    private, public = ensure_keys()
    first_public = public.read_bytes()
    app = build(PortalSettings(portal_dev_sign_in=True, portal_local=True, log_level="WARNING"))

    async def sign_in(subject: str) -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as client:
            assert (await client.get("/dang-nhap/thu-nghiem")).status_code == 200
            session = app.state.sessions.get(client.cookies[COOKIE])
            r = await client.post("/dang-nhap/thu-nghiem", data={"csrf": session.csrf, "subject": subject,
                                                                 "role": "applicant"})
            assert r.status_code == 303, r.text
            return app.state.sessions.get(client.cookies[COOKIE]).access_token  # type: ignore[no-any-return]

    first = await sign_in("htx-1")
    other_private, _ = ensure_keys(tmp_path / "other")
    shutil.copyfile(other_private, private)  # the key on disk changes: the portal keeps the one it read
    second = await sign_in("htx-2")
    for token, subject in ((first, "htx-1"), (second, "htx-2")):
        claims = jwt.decode(token, first_public, algorithms=["EdDSA"], audience="binhchon")
        assert claims["sub"] == subject
