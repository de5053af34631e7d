"""Benchmark: N notifications through notify — events in, rendered Vietnamese mail out, each recorded once.

    uv run python bench/notify_deliver.py [--notifications 10000]

Each notification is a receipt mail for a dossier.received event handed to the service's handler (as the Kafka
consumer would), delivered to a real SMTP server running in-process, with its notification.sent event
recorded. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, date, datetime

from aiosmtpd.controller import Controller

from binhchon_kit.auth.devtoken import ensure_keys
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.infra import REPO, free_port, provide
from binhchon_kit.testing.samples import dossier_body
from notify.main import NotifySettings, build
from notify.service import Notify


class Counter:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.count += 1
        return "250 OK"


def received(n: int) -> RecordedEvent:
    body = dossier_body(product=f"Sản phẩm số {n}", regno=f"BN{n:07d}")
    data = {"dossier_id": f"dossier-{n}", "round_id": "round-b", "round_code": "B", "programme": "OCOP",
            "level": "province", "receipt_number": f"B-{n:05d}", "received_at": datetime.now(UTC).isoformat(),
            "check_due_date": date.today().isoformat(), "producer": body["producer"], "product": body["product"],
            "documents": body["documents"], "escalated_from": None}
    return RecordedEvent(id=str(uuid.uuid4()), stream=f"dossier-{n}", version=1, type="dossier.received",
                         schema_version=1, subject=f"dossier-{n}", time=datetime.now(UTC), data=data,
                         actor=Actor("p"), correlation_id="bench", causation_id="bench", source="/binhchon/intake",
                         prev_hash="", hash="")


async def bench(kafka: str, mongodb: str, count: int) -> None:
    smtp = Counter()
    port = free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=port)
    controller.start()
    run = uuid.uuid4().hex[:8]
    _, public = ensure_keys(REPO / ".run" / f"bench-keys-{run}")
    settings = NotifySettings(mongodb_url=mongodb, mongodb_database=f"bench_notify_{run}",
                              kafka_bootstrap_servers=kafka, kafka_topic_prefix=f"bench{run}.",
                              auth_public_keys_file=str(public), smtp_port=port,
                              consumers_enabled=False, relay_enabled=False, notify_poll_seconds=0.05,
                              log_level="WARNING")
    app = build(settings)
    try:
        async with running(app, "http://notify"):
            svc: Notify = app.state.notify
            started = time.perf_counter()
            for n in range(count):
                await svc.on_event(received(n))
            enqueued = time.perf_counter() - started
            while smtp.count < count:
                await asyncio.sleep(0.1)
                if time.perf_counter() - started > 1800:
                    break
            delivered = time.perf_counter() - started
            recorded = await svc.db["events"].count_documents({"type": "notification.sent"})
    finally:
        controller.stop()
    print(f"notify benchmark: {count} notifications (receipt mails), MongoDB {mongodb}")
    print(f"  events handled and messages rendered + stored: {enqueued:7.2f} s ({count / enqueued:7.1f}/s)")
    print(f"  all delivered to the SMTP server after:        {delivered:7.2f} s ({smtp.count / delivered:7.1f}/s "
          f"end to end); {recorded} notification.sent recorded")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notifications", type=int, default=10000)
    args = parser.parse_args()
    with provide(REPO / ".run" / f"bench-{uuid.uuid4().hex[:8]}") as infra:
        asyncio.run(bench(infra.kafka, infra.mongodb, args.notifications))


if __name__ == "__main__":
    main()
