"""Fixtures notify's integration tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .test_notify_delivery import Mailbox


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server in-process, keeping every mail as a mail client decodes it."""
    box = Mailbox()
    box.controller.start()
    yield box
    box.controller.stop()
