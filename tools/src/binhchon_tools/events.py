"""Print the CloudEvents on a topic, from the beginning, as an integrator's consumer would see them.

    binhchon-events intake.events [--subject DOSSIER_ID] [--follow] [--bootstrap-servers HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from aiokafka import AIOKafkaConsumer

from binhchon_kit.principals import AUDITOR, client_options


async def read(topic: str, bootstrap: str, subject: str | None, follow: bool) -> int:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None, **client_options(AUDITOR))
    await consumer.start()
    count = 0
    try:
        idle = 0
        while follow or idle < 3:
            batches = await consumer.getmany(timeout_ms=500)
            idle = 0 if batches else idle + 1
            for records in batches.values():
                for record in records:
                    try:
                        event = json.loads(record.value)
                    except ValueError:
                        event = {"unparseable": record.value.decode("utf-8", "replace")}
                    if subject and event.get("subject") != subject:
                        continue
                    count += 1
                    print(json.dumps({"partition": record.partition, "offset": record.offset, **event},
                                     ensure_ascii=False), flush=True)
    finally:
        await consumer.stop()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("topic")
    parser.add_argument("--subject", help="only this dossier (or round)")
    parser.add_argument("--follow", action="store_true", help="keep reading new events")
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args(argv)
    count = asyncio.run(read(args.topic, args.bootstrap_servers, args.subject, args.follow))
    print(f"{count} event(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
