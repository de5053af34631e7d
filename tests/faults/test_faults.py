"""One fault per test, struck while a season of N dossiers is played; the checker after each (ADR 0041)."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from . import inject
from .checker import settled
from .flow import Flow
from .knobs import BROKER_DOWN, STORE_DOWN
from .system import SERVICES

pytestmark = pytest.mark.integration


def during(flow: Flow, fault: Callable[[], Any], at: float) -> list[BaseException]:
    """Play the flow while ``fault`` runs in a thread once the flow has made ``at`` of its calls; the fault's
    own failure (if any) is returned, to be raised after the flow."""
    errors: list[BaseException] = []
    mark = int(flow.expected_calls * at)

    def strike() -> None:
        try:
            while flow.progress < mark:
                time.sleep(0.05)
            fault()
        except BaseException as exc:  # handed to the test, which raises it
            errors.append(exc)

    thread = threading.Thread(target=strike, daemon=True)
    thread.start()
    flow.play()
    thread.join(600)
    assert not thread.is_alive(), "the fault never finished"
    return errors


def after_a_crash(problems: list[str]) -> None:
    """Everything must hold, except one finding a crash may cause (issue 14: "one certificate.issued was published
    twice after a relay crash"): an event published, the process killed before its mark was cleared, published
    again on restart. It happens only when a kill lands in that window, so it is an xfail when it happens, not a
    strict one: the run's table says which."""
    twice = [p for p in problems if "on its topic" in p and "times" in p]
    others = [p for p in problems if p not in twice]
    assert not others, others
    if twice:
        pytest.xfail(f"finding: an event on its topic twice after a SIGKILL (the relay publishes at least once; "
                     f"readers must de-duplicate by event id): {twice[:3]}")


@pytest.mark.timeout(2400)
def test_no_fault_the_baseline(fault_run):
    system, flow, run = fault_run("none (baseline)")
    flow.play()
    evidence, problems = settled(system)
    run.saw(flow, evidence, problems)
    assert not problems, problems


@pytest.mark.timeout(2400)
def test_sigkill_of_each_service_in_turn_at_a_random_point(fault_run):
    system, flow, run = fault_run("SIGKILL each service in turn, restarted")
    rng = random.Random()
    marks = sorted(rng.uniform(0.05, 0.8) for _ in SERVICES)
    order = list(SERVICES)
    rng.shuffle(order)

    def kill_each() -> None:
        for service, at in zip(order, marks, strict=True):
            while flow.progress < int(flow.expected_calls * at):
                time.sleep(0.05)
            system.kill_and_restart(service)

    errors = during(flow, kill_each, 0)
    assert not errors, errors
    evidence, problems = settled(system, duplicate_mails_allowed=1)
    run.saw(flow, evidence, problems)
    run.extra["kills"] = [f"{s}@{m:.0%}" for s, m in zip(order, marks, strict=True)]
    after_a_crash(problems)


@pytest.mark.timeout(2400)
def test_duplicate_delivery_of_everything_consumed_then_a_replay_of_every_group_from_offset_0(fault_run):
    system, flow, run = fault_run("duplicates x2 of every event, then every group replayed from 0")
    flow.play()
    before, problems = settled(system)
    assert not problems, problems
    injected, copied = inject.copies(system, times=2)
    evidence, problems = settled(system, injected=injected)
    assert not problems, problems
    assert len(evidence.mails) == len(before.mails), "a copy of a consumed event sent a mail again"
    system.stop_services()
    groups = inject.rewind_every_group(system)
    assert groups, "no consumer group to rewind"
    system.start_services()
    evidence, problems = settled(system, injected=injected)
    run.saw(flow, evidence, problems)
    run.extra.update(copies=copied, groups_rewound=groups)
    assert len(evidence.mails) == len(before.mails), "a replay from offset 0 sent a mail again"
    assert not problems, problems


@pytest.mark.timeout(2400)
def test_poison_on_every_topic_is_dead_lettered_with_its_headers_and_the_consumers_go_on(fault_run):
    system, flow, run = fault_run("poison on every topic (bad JSON, unknown type, invalid data, over-size)")
    written: dict[str, set[tuple[str, int, int]]] = {}

    def strike() -> None:
        written.update(inject.poison(system))

    errors = during(flow, strike, 0.3)
    assert not errors, errors
    injected = set().union(*written.values())
    evidence, problems = settled(system, injected=injected)
    run.saw(flow, evidence, problems)
    consumed = {where.split()[1].split("[")[0] for where in evidence.lag}  # topics some group reads
    lettered = {(r.headers.get("dlq-source-topic", "").removeprefix(system.prefix),
                 int(r.headers.get("dlq-source-offset", -1))) for t, rs in evidence.topics.items() if t.endswith(".dlq")
                for r in rs}
    missing = [f"{kind}: {topic}@{offset}" for kind, records in written.items() for topic, _, offset in records
               if topic in consumed and (topic, offset) not in lettered]
    run.problems += [f"not dead-lettered: {m}" for m in missing]
    assert not problems, problems
    assert not missing, f"poison not dead-lettered (README: dead letters with the reason): {missing}"


@pytest.mark.timeout(2400)
def test_notify_killed_while_sending_to_a_slow_mail_server(fault_run):
    """Each mail whose DATA the server was still answering when notify died is kept by the server and sent again
    once its lease runs out: one duplicate each, never a loss (issue 14). Notify sends several mails at once, so a
    kill may cut several (a run cut 6 with 3 kills): the duplicates allowed are those cut, counted once the process
    is dead, and one per kill for a mail accepted just before it and not yet recorded sent."""
    system, flow, run = fault_run("notify SIGKILLed mid-send to a slow mail server (x3)", smtp_delay=2.0)
    kills = cut = 0

    def count_cut() -> None:
        nonlocal cut
        cut += system.catcher.in_flight

    def kill_mid_send() -> None:
        nonlocal kills
        for at in (0.2, 0.5, 0.8):
            while flow.progress < int(flow.expected_calls * at) or system.catcher.in_flight == 0:
                time.sleep(0.05)
            system.kill_and_restart("notify", when_killed=count_cut)
            kills += 1

    errors = during(flow, kill_mid_send, 0)
    assert not errors, errors
    evidence, problems = settled(system, duplicate_mails_allowed=cut + kills)
    run.saw(flow, evidence, problems)
    after_a_crash(problems)


@pytest.mark.timeout(2400)
def test_notify_down_while_a_rounds_events_pile_up_across_partitions_then_catching_up(fault_run):
    """Issue 14: with notify down during a flow, on catching up it read scoring.completed before the panel event
    it needs (another partition) and sent nothing. Stopped (SIGTERM, as an operator stops it, so no send is cut
    and no duplicate is excused) from the first district round's scoring to the province's decision, it must
    then send every mail exactly once."""
    system, flow, run = fault_run("notify down while a round's events pile up, then catching up")
    down: dict[str, float] = {}

    def outage() -> None:
        process = system.processes[("notify", 0)]
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        stopped = time.monotonic()
        mark = int(flow.expected_calls * 0.85)  # panels, sheets, results, approvals pile up meanwhile
        while flow.progress < mark and not flow.seconds and time.monotonic() - stopped < 300:
            time.sleep(0.2)
        system.start_service("notify")
        down["seconds"] = round(time.monotonic() - stopped, 1)

    errors = during(flow, outage, 0.2)
    assert not errors, errors
    evidence, problems = settled(system)
    run.saw(flow, evidence, problems)
    run.extra["notify_down_s"] = down.get("seconds")
    assert not problems, problems


@pytest.mark.timeout(2400)
def test_the_broker_killed_while_writes_go_on(fault_run):
    system, flow, run = fault_run(f"broker SIGKILLed for {BROKER_DOWN:.0f} s while writes go on")

    def outage() -> None:
        system.kill_broker()
        time.sleep(BROKER_DOWN)
        system.kafka.start()

    errors = during(flow, outage, 0.15)
    assert not errors, errors
    evidence, problems = settled(system)
    run.saw(flow, evidence, problems)
    assert not problems, problems


@pytest.mark.timeout(2400)
def test_the_store_killed_while_the_flow_goes_on(fault_run):
    system, flow, run = fault_run(f"store (FerretDB) SIGKILLed for {STORE_DOWN:.0f} s")
    answered: dict[str, Any] = {}

    def outage() -> None:
        system.kill_store()
        time.sleep(2)
        answered["readyz"] = [httpx.get(f"{system.url(s)}/readyz", timeout=10).status_code for s in SERVICES]
        time.sleep(max(0.0, STORE_DOWN - 2))
        system.store.start()

    errors = during(flow, outage, 0.3)
    assert not errors, errors
    evidence, problems = settled(system)
    run.saw(flow, evidence, problems)
    run.extra.update(readyz_during=answered.get("readyz"), answers=dict(flow.answers))
    assert not problems, problems
    assert all(code == 503 for code in answered["readyz"]), f"/readyz during the outage: {answered}"
    assert flow.answers[500] == 0, f"{flow.answers[500]} answers 500 during the outage (503 expected)"


@pytest.mark.timeout(2400)
def test_two_replicas_of_every_service(fault_run):
    system, flow, run = fault_run("two replicas of every service", replicas=2)
    flow.play()
    evidence, problems = settled(system)
    run.saw(flow, evidence, problems)
    assert not problems, problems
