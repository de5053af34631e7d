"""Documents read by a range of their ``_id`` on the real store (binhchon_kit.key_range, issue 14): a prefix takes
every document of its key, page after page, and none of a key it is a prefix of."""

from __future__ import annotations

import pytest

from binhchon_kit import key_range

pytestmark = pytest.mark.integration


def test_after_a_prefix_is_the_least_string_past_all_it_starts() -> None:
    assert key_range.after("d1:") == "d1;"
    assert "d1:" < "d1:\U0010ffff" < key_range.after("d1:") <= "d1;"


async def test_a_prefix_takes_its_keys_documents_and_no_neighbours(mongo, unique):
    c = mongo[f"kit_{unique}"]["reminders"]
    mine = [f"d1:gk-{n}" for n in range(7)]
    await c.insert_many([{"_id": i} for i in [*mine, "d1", "d10:gk-1", "d1;", "d0:gk-9", "d1:"]])
    assert [d["_id"] for d in await key_range.with_prefix(c, "d1:", page=3)] == ["d1:", *mine]  # pages of 3
    assert [d["_id"] for d in await key_range.with_prefix(c, "d1:")] == ["d1:", *mine]
    assert await key_range.with_prefix(c, "d2:") == []
    assert [d["_id"] for d in await key_range.in_range(c, "d1:gk-2", "d1:gk-4")] == ["d1:gk-2", "d1:gk-3"]
