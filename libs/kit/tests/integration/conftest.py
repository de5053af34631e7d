"""What the event store's integration tests share: a store of their own on the real server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.checkpoints import Checkpoints
from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.signing import Signer


@pytest.fixture
async def store(mongo, unique):
    """A MongoDB-protocol event store in a database of this test's own, set up."""
    s = MongoEventStore(mongo[f"kit_{unique}"], source="/binhchon/test")
    await s.setup()
    return s


@pytest.fixture
async def merkle_log(mongo, unique) -> tuple[MongoEventStore, Any, Callable[[], Checkpoints]]:
    """A store and its Merkle log's leaves on the real server, and a ``Checkpoints`` per call: each process its
    own, knowing nothing of the others' sizes."""
    db = mongo[f"kit_log_{unique}"]
    store = MongoEventStore(db, source="/binhchon/intake")
    await store.setup()
    signer = Signer(Ed25519PrivateKey.generate())

    def process() -> Checkpoints:
        return Checkpoints(store, db, signer)

    await process().setup()
    return store, db, process
