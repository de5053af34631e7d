"""Intake's key store on the real server (ADR 0035): a subject's key made once and reused, stored only wrapped,
gone for good after an erasure."""

from __future__ import annotations

import json

from binhchon_kit.personal import MasterKey, new_data_key
from binhchon_kit.personal_keys import COLLECTION, SubjectKeys


async def test_a_subjects_key_is_stored_wrapped_and_erased_for_good(mongo, unique) -> None:
    master = MasterKey(new_data_key())
    keys = SubjectKeys(mongo[f"kit_{unique}"][COLLECTION], master)
    await keys.setup()
    kid, key = await keys.for_subject("producer:2400123456")
    assert await keys.for_subject("producer:2400123456") == (kid, key), "one key per subject"
    other_kid, _ = await keys.for_subject("producer:0100999999")
    assert other_kid != kid
    assert await keys.key(kid) == key

    stored = [doc async for doc in mongo[f"kit_{unique}"][COLLECTION].find({})]
    assert key.hex() not in json.dumps(stored, default=str) and all(set(d) == {"_id", "subject", "wrapped"}
                                                                     for d in stored)
    assert await SubjectKeys(keys.keys, MasterKey(new_data_key())).kids("producer:2400123456") == [kid]

    assert await keys.erase("producer:2400123456") == [kid]
    assert await keys.key(kid) is None and await keys.erased(kid)
    assert await keys.keys.find_one({"_id": kid}) == {"_id": kid, "erased": True}, "a tombstone: the id alone"
    assert not await keys.erased(other_kid)
    assert await keys.key(other_kid) is not None, "another subject's key stays"
    assert await keys.erase("producer:2400123456") == []
    new_kid, new_key = await keys.for_subject("producer:2400123456")
    assert new_kid != kid and new_key != key, "a producer filing again after an erasure gets a new key"
