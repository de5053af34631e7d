"""What reading an event as its class costs: ``RecordedEvent.model()`` validates the stored data as the class
its type name is registered with (ADR 0017). One JSON line per event type of the mail scenarios (a realistic
event of each), with the raw-dict read it replaced beside it. Printed, never asserted.

    uv run --no-sync python bench/event_model.py > bench/results/event_model.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from typing import Any

from binhchon_kit.events import RecordedEvent
from notify import mail_scenarios

ROUNDS, PER_ROUND = 7, 500


def realistic_events() -> dict[str, RecordedEvent]:
    """One event of each type the mail scenarios record, as they record it."""
    seen: dict[str, RecordedEvent] = {}
    real = mail_scenarios.recorded

    def keep(*args: Any) -> RecordedEvent:
        event = real(*args)
        seen.setdefault(event.type, event)
        return event

    mail_scenarios.recorded = keep  # type: ignore[assignment]
    try:
        mail_scenarios.render_all(next(iter(mail_scenarios.VARIANTS)))
    finally:
        mail_scenarios.recorded = real  # type: ignore[assignment]
    return seen


def per_event_us(read: Any) -> float:
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(PER_ROUND):
            read()
        samples.append((time.perf_counter() - started) / PER_ROUND * 1e6)
    return round(statistics.median(samples), 1)


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    for type_, event in sorted(realistic_events().items()):
        # each read on a new object (dataclasses.replace copies the fields only): no model cached from before
        model_us = per_event_us(lambda e=event: dataclasses.replace(e).model())
        dict_us = per_event_us(lambda e=event: dataclasses.replace(e).data.get("dossier_id"))
        print(json.dumps({"bench": "event_model", "type": type_,
                          "data_bytes": len(json.dumps(event.data, ensure_ascii=False).encode()),
                          "model_us": model_us, "raw_dict_us": dict_us}), flush=True)


if __name__ == "__main__":
    main()
