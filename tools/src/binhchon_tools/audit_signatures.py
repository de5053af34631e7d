"""Each event's producer signature, checked from Kafka (ADR 0026): the ``signature`` attribute is the producing
service's log key's Ed25519 signature over the event's ``hash``, ``signaturekid`` names the key in that service's
``/log/jwks.json``. With the service's log keys (``--log-jwks``), an event that is unsigned, signed by a key that
is not its service's, or whose signature does not verify, is a discrepancy: whoever could write to the topic
without the key could not have made it. The hash itself is checked by the chain check (``audit_chain``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from binhchon_kit.signing import public_key_from_jwk, verify_bytes
from binhchon_kit.trust import SIGNATURE, SIGNATURE_KID
from binhchon_tools.audit_checkpoints import ALL_SERVICES, service_of
from binhchon_tools.audit_findings import Discrepancy, Findings


class Signed(NamedTuple):  # one per event read: a tuple is made several times faster than a dataclass
    """What the signature check needs of one event as read."""

    source: str
    stream: str
    event_id: str
    hash: str
    signature: Any
    kid: Any
    where: str

    @classmethod
    def of(cls, event: Mapping[str, Any], where: str) -> Signed:
        return cls(str(event.get("source", "")), str(event.get("streamid", "")), str(event.get("id", "")),
                   str(event.get("hash", "")), event.get(SIGNATURE), event.get(SIGNATURE_KID), where)


SIGNED_PER_TASK = 5000  # signatures a worker process checks per task


def check_signatures(events: list[Signed], findings: Findings, log_jwks: Mapping[str, Mapping[str, Any]] | None,
                     pool: Executor | None = None) -> None:
    """Name every event whose producer signature fails; note the services whose keys were not given.

    An Ed25519 verification costs more than reading and hashing the event, so with keys and ``pool`` (the audit's
    worker processes) the events are checked in tasks of ``SIGNED_PER_TASK``; the discrepancies come back in the
    events' order either way."""
    jwks = {k: dict(v) for k, v in (log_jwks or {}).items()}
    if pool is None or not jwks or len(events) <= SIGNED_PER_TASK:
        parts = [_check(events, jwks)]
    else:
        tasks = [pool.submit(_check, events[i:i + SIGNED_PER_TASK], jwks)
                 for i in range(0, len(events), SIGNED_PER_TASK)]
        parts = [task.result() for task in tasks]
    unchecked: Counter[str] = Counter()
    checked = 0
    for found, count, missing in parts:
        findings.discrepancies.extend(found)
        checked += count
        unchecked.update(missing)
    _counted(findings, checked, unchecked)


def note_unchecked(sources: Mapping[str, int], findings: Findings) -> None:
    """``check_signatures`` where no log key is given at all: nothing to verify, so each service's events are
    counted from how many each source published (``ChainCheck.sources``), without a tuple per event."""
    unchecked: Counter[str] = Counter()
    for source, count in sources.items():
        unchecked[service_of(source)] += count
    _counted(findings, 0, unchecked)


def _counted(findings: Findings, checked: int, unchecked: Counter[str]) -> None:
    findings.counts["signatures_checked"] = checked
    for service, count in sorted(unchecked.items()):
        findings.notes.append(f"{count} event(s) of {service}: producer signatures not checked (no --log-jwks for "
                              f"{service})")


def _check(events: list[Signed], jwks: Mapping[str, Mapping[str, Any]]
           ) -> tuple[list[Discrepancy], int, Counter[str]]:
    """The signatures of ``events`` (in a worker process, or not): the discrepancies, how many were checked, and
    by service how many could not be (no keys)."""
    findings = Findings()
    keys: dict[str, dict[str, Ed25519PublicKey] | None] = {}
    unchecked: Counter[str] = Counter()
    checked = 0
    for source, stream, event_id, hash_, signature, kid, where in events:  # (``Signed``'s, or plain tuples)
        service = service_of(source)
        if service not in keys:
            given = jwks.get(service) or jwks.get(source) or jwks.get(ALL_SERVICES)
            keys[service] = None if given is None else {
                str(k.get("kid")): public_key_from_jwk(dict(k)) for k in given.get("keys", [])}
        held = keys[service]
        if held is None:
            unchecked[service] += 1
            continue
        checked += 1
        if not isinstance(signature, str) or not isinstance(kid, str):
            findings.add("signature", stream, f"not signed by its producer ({where})", event_id)
        elif kid not in held:
            findings.add("signature", stream, f"signed by key {kid}, not one of {service}'s log keys ({where})",
                         event_id)
        elif not verify_bytes(held[kid], signature, hash_.encode("ascii", "replace")):
            findings.add("signature", stream, f"the signature is not {service}'s key {kid}'s over the event's hash "
                         f"({where})", event_id)
    return findings.discrepancies, checked, unchecked
