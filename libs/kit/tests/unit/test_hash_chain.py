"""The per-stream hash chain: any change to a recorded event, a gap or a broken link is detectable."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from binhchon_kit.canonical import GENESIS_HASH, chain_hash
from binhchon_kit.envelope import utc_now
from binhchon_kit.events import Actor, RecordedEvent, hashed_content
from binhchon_kit.eventstore import verify_chain

STREAM = "dossier-hash-chain"
SECRETARIAT = Actor("secretariat-1", ("secretariat",))


def recorded(
    version: int, prev_hash: str, data: dict[str, Any], type_: str = "dossier.withdrawn"
) -> RecordedEvent:
    """An event built the way EventStore.append builds it."""
    fields: dict[str, Any] = dict(
        id=f"event-{version}", stream=STREAM, version=version, type=type_, schema_version=1, subject=STREAM,
        time=utc_now(), data=data, actor=SECRETARIAT, correlation_id="corr-1",
        causation_id=f"cause-{version}", source="intake",
    )
    return RecordedEvent(**fields, prev_hash=prev_hash, hash=chain_hash(prev_hash, hashed_content(**fields)))


def chain(*versions: int) -> list[RecordedEvent]:
    events: list[RecordedEvent] = []
    for version in versions:
        prev = events[-1].hash if events else GENESIS_HASH
        events.append(recorded(version, prev, {"reason": f"Lý do rút hồ sơ số {version}"}))
    return events


def base_content() -> dict[str, Any]:
    return recorded(1, GENESIS_HASH, {"reason": "Hộ kinh doanh xin rút hồ sơ"}).hashed_content()


CHANGES: dict[str, Any] = {
    "id": "event-other", "stream": "dossier-other", "version": 2, "type": "dossier.rejected",
    "schema_version": 2, "subject": "dossier-other", "time": "2026-01-01T00:00:00.000Z",
    "data": {"reason": "Hộ kinh doanh xin rút hồ sơ."}, "actor": {"id": "secretariat-1", "roles": []},
    "correlation_id": "corr-2", "causation_id": "cause-2", "source": "scoring",
}


def test_every_hashed_field_is_listed_here() -> None:
    assert set(CHANGES) == set(base_content())


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_changing_any_field_changes_the_hash(field: str) -> None:
    content = base_content()
    assert chain_hash(GENESIS_HASH, {**content, field: CHANGES[field]}) != chain_hash(GENESIS_HASH, content)


def test_the_previous_hash_is_part_of_the_hash() -> None:
    content = base_content()
    assert chain_hash("f" * 64, content) != chain_hash(GENESIS_HASH, content)


def test_key_order_does_not_change_the_hash() -> None:
    content = base_content()
    shuffled = dict(reversed(list(content.items())))
    assert chain_hash(GENESIS_HASH, shuffled) == chain_hash(GENESIS_HASH, content)


def test_an_intact_chain_reports_nothing() -> None:
    events = chain(1, 2, 3)
    assert all(event.verify_hash() for event in events)
    assert verify_chain(events) == []
    assert verify_chain([]) == []


def test_a_gap_is_reported() -> None:
    assert verify_chain(chain(1, 2, 4)) == [f"{STREAM}: version 4 where 3 was expected"]


def test_a_chain_that_does_not_start_at_version_one_is_reported() -> None:
    assert verify_chain(chain(2)) == [f"{STREAM}: version 2 where 1 was expected"]


def test_a_broken_link_is_reported() -> None:
    first, second, _ = chain(1, 2, 3)
    relinked = recorded(3, "f" * 64, {"reason": "Lý do rút hồ sơ số 3"})  # a valid hash over the wrong link
    assert relinked.verify_hash()
    assert verify_chain([first, second, relinked]) == [f"{STREAM} v3: previous hash does not match"]


def test_a_removed_event_shows_as_a_gap_and_a_broken_link() -> None:
    first, _, third = chain(1, 2, 3)
    assert verify_chain([first, third]) == [
        f"{STREAM}: version 3 where 2 was expected",
        f"{STREAM} v3: previous hash does not match",
    ]


@pytest.mark.parametrize(
    "alteration",
    [
        {"data": {"reason": "Lý do đã bị sửa"}},
        {"actor": Actor("someone-else", ("secretariat",))},
        {"time": utc_now() + timedelta(days=1)},
        {"type": "dossier.rejected"},
    ],
    ids=["data", "actor", "time", "type"],
)
def test_altered_content_is_reported(alteration: dict[str, Any]) -> None:
    first, second, third = chain(1, 2, 3)
    altered = replace(second, **alteration)
    assert not altered.verify_hash()
    assert verify_chain([first, altered, third]) == [f"{STREAM} v2: content does not match its hash"]
