"""The fault suite's fixtures (ADR 0041): a System of its own per test, the flow's size, the summary table.

Run by `make faults`. A plain `pytest` (make test) leaves the fault tests out, unless it is pointed at
tests/faults: each of them starts its own broker and store and plays a season of N dossiers, minutes each.

    FAULTS_N                  dossiers per flow (default 100; 20 for a quick local run)
    FAULTS_CONCURRENCY        calls in flight at once (default 6)
    FAULTS_BROKER_DOWN_SECONDS  how long the broker stays dead (default 60)
    FAULTS_STORE_DOWN_SECONDS   how long the store stays dead (default 30)
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from binhchon_kit.testing.infra import REPO

from .checker import Evidence
from .flow import Flow
from .knobs import CONCURRENCY, N
from .system import System

RESULTS = Path(os.environ.get("FAULTS_RESULTS_DIR") or REPO / ".run" / "faults")
SUMMARY = RESULTS / "summary.jsonl"
HERE = Path(__file__).parent
# the files whose tests each play a season on a system of their own (the checker's unit test is not one)
FAULT_FILES = {"test_faults.py", "test_store_restored.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    asked = os.environ.get("BINHCHON_FAULTS") == "1" or any(
        Path(a.split("::")[0]).resolve().is_relative_to(HERE) for a in config.args)
    faults = [i for i in items if Path(str(i.path)).resolve().parent == HERE and i.path.name in FAULT_FILES]
    if asked:
        config.stash[PLAYED] = bool(faults)
        if faults:  # a new table for this run's faults (a run of the checker's unit test alone keeps the last)
            RESULTS.mkdir(parents=True, exist_ok=True)
            SUMMARY.unlink(missing_ok=True)
        return
    if faults:
        config.hook.pytest_deselected(items=faults)
        items[:] = [i for i in items if i not in faults]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[OUTCOME] = "xfail" if hasattr(report, "wasxfail") else report.outcome
    return report


OUTCOME = pytest.StashKey[str]()
PLAYED = pytest.StashKey[bool]()


class Run:
    """What one fault test did, for the summary table: filled by the test, written by the fixture."""

    def __init__(self, fault: str) -> None:
        self.fault, self.dossiers, self.events, self.mails = fault, 0, 0, 0
        self.problems: list[str] = []
        self.started = time.monotonic()
        self.extra: dict[str, Any] = {}

    def saw(self, flow: Flow, evidence: Evidence, problems: list[str]) -> None:
        self.dossiers = len(flow.dossiers) + sum(bool(d.escalated) for d in flow.dossiers)
        self.events = sum(len(evidence.events(f"{s}.events")) for s in
                          ("intake", "scoring", "certification", "notify"))
        self.mails = len(evidence.mails)
        self.problems = problems
        self.extra.update(flow_seconds=round(flow.seconds, 1), stages=getattr(flow, "stages", {}),
                          races=flow.races, answers=dict(flow.answers))


@pytest.fixture
def fault_run(request: pytest.FixtureRequest) -> Iterator[Callable[..., tuple[System, Flow, Run]]]:
    """``start(fault, replicas=1, smtp_delay=0)``: a System of this test's own, started, its Flow, its Run."""
    made: list[tuple[System, Run, list[Flow]]] = []

    def start(fault: str, replicas: int = 1, smtp_delay: float = 0.0) -> tuple[System, Flow, Run]:
        workdir = RESULTS / f"{request.node.name[:40]}-{uuid.uuid4().hex[:4]}"
        system, run, flows = System(workdir, replicas=replicas, smtp_delay=smtp_delay), Run(fault), []
        made.append((system, run, flows))
        system.start()
        flows.append(Flow(system, n=N, concurrency=CONCURRENCY))
        return system, flows[0], run

    yield start
    for system, run, flows in made:
        for flow in flows:
            flow.close()
        system.stop()
        outcome = request.node.stash.get(OUTCOME, "error")
        line = {"fault": run.fault, "dossiers": run.dossiers, "events": run.events, "mails": run.mails,
                "seconds": round(time.monotonic() - run.started, 1), "result": outcome,
                "problems": run.problems[:20], "restarts": system.restarts, **run.extra}
        with SUMMARY.open("a") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        if outcome == "passed":
            shutil.rmtree(system.dir, ignore_errors=True)  # a failure's logs and data stay for a look


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not config.stash.get(PLAYED, False) or not SUMMARY.exists():
        return
    lines = [json.loads(line) for line in SUMMARY.read_text().splitlines() if line.strip()]
    if not lines:
        return
    tr = terminalreporter
    tr.section("fault suite")
    tr.write_line(f"{'fault':44} {'dossiers':>8} {'events':>7} {'mails':>6} {'seconds':>8}  result")
    for line in lines:
        tr.write_line(f"{line['fault'][:44]:44} {line['dossiers']:>8} {line['events']:>7} {line['mails']:>6} "
                      f"{line['seconds']:>8}  {line['result']}")
        for problem in line["problems"][:5]:
            tr.write_line(f"{'':8}{problem[:150]}")
    tr.write_line(f"(JSON lines: {SUMMARY})")
