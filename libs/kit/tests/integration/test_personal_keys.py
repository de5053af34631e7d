"""Intake's key store on the real server (ADR 0035): a subject's key made once and reused, stored only wrapped,
gone for good after an erasure."""

from __future__ import annotations

import json
from typing import Any

from binhchon_kit import personal_keys
from binhchon_kit.personal import MasterKey, new_data_key, new_kid
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


class CountingFinds:
    """The real collection, counting the queries made of it."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self.finds = 0

    def find(self, *args: Any, **kwargs: Any) -> Any:
        self.finds += 1
        return self.collection.find(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collection, name)


async def test_a_pages_keys_are_one_query_and_unwrapped_keys_are_kept_briefly_but_never_past_an_erasure(
        mongo, unique, monkeypatch) -> None:
    """ADR 0048: a list page asks for all its keys in one ``$in`` query; keys unwrapped are kept ``ttl`` seconds;
    an erasure drops them at once."""
    counted = CountingFinds(mongo[f"kit_{unique}"][COLLECTION])
    now = [1000.0]
    keys = SubjectKeys(counted, MasterKey(new_data_key()), ttl=30, clock=lambda: now[0])  # type: ignore[arg-type]
    made = dict([await keys.for_subject(f"producer:HKD-{n}") for n in range(5)])
    counted.finds = 0

    assert await keys.many([*made, *made, "psk-" + "0" * 32, "not-a-kid"]) == {
        **made, "psk-" + "0" * 32: None, "not-a-kid": None}
    assert counted.finds == 1, "one query for the page, whatever its length"
    assert await keys.many(list(made)) == made and counted.finds == 1, "unwrapped lately: no query"

    gone = next(iter(made))
    await keys.forget([gone])
    counted.finds = 0
    assert await keys.many(list(made)) == {**made, gone: None} and counted.finds == 1, "the erased key is asked"
    assert await keys.key(gone) is None

    now[0] += 31
    counted.finds = 0
    assert await keys.many(list(made)) == {**made, gone: None} and counted.finds == 1, "past ttl: asked again"

    # many keys unwrapped long ago: past the bound, the expired ones leave memory (not only when asked again)
    monkeypatch.setattr(personal_keys, "UNWRAPPED_KEPT", 2)
    now[0] += 31
    await keys.many([])
    assert keys._unwrapped == {}, "expired keys kept in memory"


async def test_a_subjects_key_is_found_by_its_entry_the_same_as_by_subject_keys_made_before_entries_included(
        mongo, unique) -> None:
    """Issue 14: ``{subject: …}`` read every key ever made; ``<subject>|<kid>`` entries are read by an ``_id``
    range. Keys stored before the entries existed get theirs at start, once, and the key found is the one the
    query by subject found (the least kid); a subject whose name goes on past a ``|`` takes nobody else's."""
    master = MasterKey(new_data_key())
    db = mongo[f"kit_{unique}"]
    old = sorted(new_kid() for _ in range(3))
    legacy = [("producer:A", old[2]), ("producer:A", old[0]), ("producer:A|B", old[1])]
    await db[COLLECTION].insert_many([{"_id": kid, "subject": subject, "wrapped": master.wrap(kid, new_data_key())}
                                      for subject, kid in legacy])
    await db[COLLECTION].insert_one({"_id": new_kid(), "erased": True})  # a tombstone: nobody's
    by_query = {s: (await db[COLLECTION].find_one({"subject": s}, sort=[("_id", 1)]))["_id"]
                for s in ("producer:A", "producer:A|B")}
    keys = SubjectKeys(db[COLLECTION], master)
    await keys.setup()
    assert {s: (await keys.for_subject(s))[0] for s in by_query} == by_query == {"producer:A": old[0],
                                                                                  "producer:A|B": old[1]}
    assert await db[f"{COLLECTION}_by_subject"].count_documents({}) == 3
    await db[f"{COLLECTION}_by_subject"].delete_many({})
    await keys.setup()  # once per deploy: a second start reads the keys no more
    assert await db[f"{COLLECTION}_by_subject"].count_documents({}) == 0


async def test_a_crash_between_the_entry_and_its_key_loses_nothing_and_an_erasure_leaves_no_link(
        mongo, unique) -> None:
    master = MasterKey(new_data_key())
    db = mongo[f"kit_{unique}"]
    keys = SubjectKeys(db[COLLECTION], master)
    await keys.setup()
    unmade = new_kid()
    await db[f"{COLLECTION}_by_subject"].insert_one({"_id": f"producer:A|{unmade}", "subject": "producer:A",
                                                     "kid": unmade})  # the process died before the key
    kid, key = await keys.for_subject("producer:A")
    assert kid != unmade and await keys.for_subject("producer:A") == (kid, key)
    other, _ = await keys.for_subject("producer:A|B")

    assert await keys.erase("producer:A") == [kid]
    assert await keys.key(kid) is None and await keys.erased(kid)
    assert [e["_id"] async for e in db[f"{COLLECTION}_by_subject"].find({})] == [f"producer:A|B|{other}"]
    again, _ = await keys.for_subject("producer:A")
    assert again not in (kid, unmade)

    # an erasure replayed on a restored store (by kids alone) takes their entries too
    assert await personal_keys.tombstone(db[COLLECTION], [other]) == [other]
    assert await db[f"{COLLECTION}_by_subject"].count_documents({"subject": "producer:A|B"}) == 0
