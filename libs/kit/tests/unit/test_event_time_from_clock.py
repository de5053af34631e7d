"""Every way an event is recorded stamps it with the service's clock (the one its composition root gives
``build_runtime``, and a test fixes), never the machine's: a command's event (``record``), the log's checkpoint,
and the dead letters' headers; and the projector's wait does not read the event's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from binhchon_kit.checkpoints import Checkpoints
from binhchon_kit.commands import record
from binhchon_kit.contracts.intake import DossierRejected
from binhchon_kit.events import Actor, Cause
from binhchon_kit.eventstore_waits import WaitTimes
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.testing.memory import FixedClock, memory_runtime, recorded_at

# days after any machine running this test, with microseconds the store does not keep
AHEAD = datetime(2031, 2, 3, 4, 5, 6, 789654, tzinfo=UTC)
STORED = datetime(2031, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)


async def test_a_commands_event_carries_the_runtimes_clock() -> None:
    clock = FixedClock(AHEAD)
    runtime = memory_runtime(ServiceSettings(service_name="intake"), {}, clock)

    event = await record(runtime, "dossier-1", 0, DossierRejected(reason="thiếu giấy tờ"),
                         Actor("sec-1", ("secretariat",)), Cause("corr-1", "http:corr-1"), "dossier-1")

    assert event.time == STORED
    assert event.to_cloudevent().time == "2031-02-03T04:05:06.789Z"
    clock.advance(timedelta(hours=80))  # the test moves time: the next event follows it
    later = await record(runtime, "dossier-1", 1, DossierRejected(reason="lần hai"),
                         Actor("sec-1", ("secretariat",)), Cause("corr-2", "http:corr-2"), "dossier-1")
    assert later.time == STORED + timedelta(hours=80)


async def test_the_checkpoint_event_and_its_signed_time_carry_the_runtimes_clock() -> None:
    runtime = memory_runtime(ServiceSettings(service_name="scoring"), {}, FixedClock(AHEAD))
    assert isinstance(runtime.checkpoints, Checkpoints)
    await grow(runtime.store, "dossier-2", 1)

    checkpoint = await runtime.checkpoints.record()

    assert checkpoint is not None and checkpoint.time == STORED
    assert checkpoint.data["time"] == "2031-02-03T04:05:06.789Z"


def test_dead_letters_and_the_inbox_read_the_runtimes_clock() -> None:
    clock = FixedClock(AHEAD)
    runtime = memory_runtime(ServiceSettings(service_name="notify"), {}, clock)
    assert runtime.clock is clock and runtime.consumers.clock is clock and runtime.store.clock is clock
    assert runtime.gauges is not None and runtime.gauges.clock is clock


def test_an_unprojected_event_is_handed_over_once_it_has_waited_on_the_process_clock() -> None:
    ticks = [100.0]
    waits = WaitTimes(lambda: ticks[0])
    # the events' time (AHEAD, a clock that stands still) plays no part
    event = recorded_at(AHEAD, "intake", "dossier-3", DossierRejected(reason="x"))
    waits.appended("dossier-3/0000000001")
    assert waits.waited([event], timedelta(seconds=5)) == []
    ticks[0] += 5
    assert waits.waited([event], timedelta(seconds=5)) == [event]
    seen_late = recorded_at(AHEAD, "intake", "dossier-4", DossierRejected(reason="y"))  # another replica's
    assert waits.waited([seen_late], timedelta(seconds=5)) == []  # its wait starts when first seen
    ticks[0] += 6
    assert waits.waited([seen_late], timedelta(seconds=5)) == [seen_late]
