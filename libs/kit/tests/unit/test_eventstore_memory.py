"""The event store contract on the memory driver: no infrastructure."""

from __future__ import annotations

import dataclasses

import pytest

from binhchon_kit.eventstore_memory import MemoryEventStore
from binhchon_kit.testing.eventstore_contract import EventStoreContract


class TestMemoryEventStore(EventStoreContract):
    @pytest.fixture
    async def store(self):
        s = MemoryEventStore("/binhchon/test")
        await s.setup()
        return s

    async def tamper(self, store, stream, version, reason):
        events = store.streams[stream]
        original = events[version - 1]
        events[version - 1] = dataclasses.replace(original, data={**original.data, "reason": reason})
