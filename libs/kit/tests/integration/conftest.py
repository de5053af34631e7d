"""What the event store's integration tests share: a store of their own on the real server."""

from __future__ import annotations

import pytest

from binhchon_kit.eventstore_mongo import MongoEventStore


@pytest.fixture
async def store(mongo, unique):
    """A MongoDB-protocol event store in a database of this test's own, set up."""
    s = MongoEventStore(mongo[f"kit_{unique}"], source="/binhchon/test")
    await s.setup()
    return s
