"""The erasures recorded on ``intake.events``, read back for a store restored from a backup (ADR 0048).

A backup made before an erasure brings back what the erasure deleted: intake's wrapped keys, notify's opened
addresses. The ``personal_data.erased`` events on ``intake.events`` (kept forever, outside every backup) say what
to delete again: each service's ``python -m <service>.erasures reapply`` reads them here and applies them to its
own store. Only events intake signed are returned (ADR 0026): a forged erasure would destroy a producer's data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any

from binhchon_kit.principals import AUDITOR, client_options
from binhchon_kit.topic_history import read_records
from binhchon_kit.trust import ProducerKeys, Untrusted, check

log = logging.getLogger("binhchon.personal")
TOPIC = "intake.events"
ERASED = "personal_data.erased"


@dataclass(frozen=True)
class Erasure:
    event_id: str
    kids: list[str]
    dossier_ids: list[str]


async def erasures_on_topic(bootstrap: list[str] | str, topic: str, options: dict[str, Any],
                            trusted: ProducerKeys) -> tuple[list[Erasure], list[str]]:
    """Every ``personal_data.erased`` event on ``topic`` (prefixed as deployed) from its start to its end now, and
    the ids of those that did not verify as intake's (logged, never returned as erasures)."""
    missing: list[str] = []
    found: list[Erasure] = []
    refused: list[str] = []
    async for batch in read_records(bootstrap, [topic], options, on_missing=missing.append):
        for record in batch:
            event = json.loads(record.value or b"{}")
            if event.get("type") != ERASED:
                continue
            try:
                check(event, TOPIC, trusted)
            except Untrusted as e:
                log.error("erasure event %s not acted on: %s", event.get("id"), e)
                refused.append(str(event.get("id")))
                continue
            found.append(Erasure(event["id"], list(event["data"]["kids"]), list(event["data"]["dossier_ids"])))
    if missing:
        raise RuntimeError(f"no topic {topic} on the broker: nothing to re-apply from")
    return found, refused


def reading_options(settings: Any) -> dict[str, Any]:
    """How a restore command signs in to read ``intake.events``: the read-only ``auditor`` from the credentials
    directory, or the user ops give (KAFKA_SASL_USERNAME), or PLAINTEXT; over TLS as the service is, trusting the
    CA it is given (KAFKA_SSL_CA_FILE, docs/adr/0055)."""
    if settings.kafka_sasl_username or not settings.kafka_credentials_dir:
        return settings.kafka_security()  # type: ignore[no-any-return]
    return client_options(AUDITOR, credentials_dir=settings.kafka_credentials_dir,
                          ca_file=settings.kafka_ssl_ca_file, env={})


async def recorded_erasures(settings: Any) -> tuple[list[Erasure], list[str]]:
    """The erasures on this deployment's ``intake.events``, read with ``settings`` (a service's)."""
    from binhchon_kit.runtime import producer_keys

    return await erasures_on_topic(settings.kafka_brokers, settings.kafka_topic_prefix + TOPIC,
                                   reading_options(settings), producer_keys(settings))


def reapply_command(prog: str, description: str | None, run: Callable[[], Coroutine[Any, Any, Any]],
                    argv: list[str] | None = None) -> int:
    """``python -m <service>.erasures reapply``, the same for every service that keeps personal data: ``run``
    re-applies the recorded erasures and returns a dataclass with a ``refused`` list; printed as one JSON line,
    exit 1 if an erasure event did not verify (look at it: it was not acted on)."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["reapply"])
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    done: Any = asyncio.run(run())
    print(json.dumps(asdict(done)))
    return 1 if done.refused else 0
