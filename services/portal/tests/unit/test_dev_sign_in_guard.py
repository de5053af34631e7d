"""The development sign-in mints tokens the services trust with the dev key: the portal refuses to start with it on
anywhere but a developer's own machine (ADR 0049, amendment "the development sign-in stays on loopback")."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from portal.main import PortalSettings

LOCAL = {"portal_dev_sign_in": True, "portal_local": True, "portal_public_url": "http://127.0.0.1:8000",
         "http_host": "127.0.0.1", "deployment": "development"}


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:8000/", "http://[::1]:8000",
                                 "http://127.0.0.2:9000"])
def test_on_loopback_the_development_sign_in_starts(url: str) -> None:
    assert PortalSettings(**LOCAL | {"portal_public_url": url}).portal_dev_sign_in


@pytest.mark.parametrize(("change", "named"), [
    ({"portal_local": False}, "PORTAL_LOCAL"),
    ({"portal_public_url": "https://motcua.tinh.gov.vn"}, "PORTAL_PUBLIC_URL"),
    ({"portal_public_url": "http://127.0.0.1.tinh.gov.vn"}, "PORTAL_PUBLIC_URL"),
    ({"portal_public_url": "http://10.0.0.5:8000"}, "PORTAL_PUBLIC_URL"),
    ({"http_host": "0.0.0.0"}, "HTTP_HOST"),
    ({"deployment": "production"}, "DEPLOYMENT"),
])
def test_anywhere_else_the_portal_refuses_to_start_naming_the_setting(change: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError) as refused:
        PortalSettings(**LOCAL | change)
    assert "PORTAL_DEV_SIGN_IN" in str(refused.value) and named in str(refused.value)


def test_off_the_portal_starts_anywhere() -> None:
    settings = PortalSettings(portal_dev_sign_in=False, portal_local=False, http_host="0.0.0.0",
                              portal_public_url="https://motcua.tinh.gov.vn", deployment="production")
    assert not settings.portal_dev_sign_in


def test_the_console_script_exits_with_the_reason_before_it_listens() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "HTTP_", "DEPLOYMENT"))}
    env |= {"PORTAL_DEV_SIGN_IN": "true", "PORTAL_LOCAL": "false", "PORTAL_PUBLIC_URL": "https://motcua.tinh.gov.vn",
            "HTTP_PORT": "1"}  # port 1: were it to start listening it would fail differently
    done = subprocess.run([sys.executable, "-c", "from portal.main import run; run()"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "PORTAL_DEV_SIGN_IN" in done.stderr and "PORTAL_LOCAL" in done.stderr, done.stderr[-2000:]
    assert "PORTAL_PUBLIC_URL" in done.stderr
