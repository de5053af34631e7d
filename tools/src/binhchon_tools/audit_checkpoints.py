"""Every signed checkpoint (``log.checkpoint``, ADR 0022) checked from the topics alone (ADR 0025): its Ed25519
signature against the service's log JWKS, its root against the Merkle tree of that service's first ``tree_size``
events as read from Kafka, and its consistency (RFC 9162) with the service's checkpoint before it.

A service's log is its events in the order its relay published them (one relay at a time; within a pass, in event
key order; a pass starts only after the one before was acknowledged). Kafka keeps that order per partition only,
so the audit rebuilds it across topics and partitions from what each record carries: the producer's timestamp
(``CreateTime``, taken when the relay sent it), then the event key (``<stream>/<version, 10 digits>``) within one
millisecond. Of an event published twice (a relay that crashed before its mark), the first copy counts: the
second found its leaf there already.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from binhchon_kit import merkle
from binhchon_kit.eventstore import event_key
from binhchon_kit.transparency import SIGNED_FIELDS, LogTampered, event_leaf, verify_checkpoint
from binhchon_tools.audit_findings import Findings

ALL_SERVICES = "*"


class Published(NamedTuple):  # one per event read: a tuple is made several times faster than a dataclass
    """One event as the log's leaf sees it: when it was published, its key, id and hash."""

    timestamp: int
    stream: str
    version: int
    event_id: str
    hash: str

    def order(self) -> tuple[int, str]:
        return self.timestamp, event_key(self.stream, self.version)


class LogOrder:
    """Each service's events (by CloudEvent ``source``, which is the log's ``origin``), first copies only."""

    def __init__(self) -> None:
        self.by_origin: dict[str, dict[tuple[str, int], Published]] = defaultdict(dict)

    def note(self, origin: str, timestamp: int, stream: str, version: int, event_id: str, hash_: str) -> None:
        copies = self.by_origin[origin]
        seen = copies.get((stream, version))
        if seen is None or timestamp < seen.timestamp:
            copies[(stream, version)] = Published(timestamp, stream, version, event_id, hash_)

    def events(self, origin: str) -> list[Published]:
        """The service's log as Kafka holds it, in publication order."""
        return sorted(self.by_origin.get(origin, {}).values(), key=Published.order)


def service_of(origin: str) -> str:
    return origin.rsplit("/", 1)[-1]


def roots_at(leaves: Sequence[bytes], sizes: set[int]) -> dict[int, bytes]:
    """The Merkle root (RFC 9162 MTH) of the first n leaves for each n of ``sizes`` the leaves reach, in one pass:
    the stack of complete subtrees ``merkle.root`` keeps, folded from the right at each size asked for."""
    roots: dict[int, bytes] = {}
    if 0 in sizes:
        roots[0] = merkle.EMPTY_ROOT
    stack: list[tuple[int, bytes]] = []
    for count, leaf in enumerate(leaves, start=1):
        size, digest = 1, leaf
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, digest = left_size + size, merkle.node_hash(left, digest)
        stack.append((size, digest))
        if count in sizes:
            folded = stack[-1][1]
            for _, left in reversed(stack[:-1]):
                folded = merkle.node_hash(left, folded)
            roots[count] = folded
    return roots


@dataclass
class Checkpoint:
    event: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.event.get("data") or {}
        return data

    @property
    def name(self) -> str:
        return f"checkpoint v{self.event.get('streamversion')} ({self.data.get('tree_size')} events)"


def check_checkpoints(order: LogOrder, checkpoints: Sequence[dict[str, Any]], findings: Findings,
                      jwks: dict[str, dict[str, Any]] | None = None) -> None:
    """Each service's checkpoints, oldest first: signed by a key of the service's log JWKS (``jwks`` by service
    name, or ``*`` for any), the root of the first ``tree_size`` events of its log on the topics, consistent with
    the checkpoint before. Each discrepancy names the checkpoint's event id and the events concerned."""
    if not checkpoints:
        return
    jwks = jwks or {}
    by_origin: dict[str, dict[int, Checkpoint]] = defaultdict(dict)
    for event in checkpoints:
        data = event.get("data")
        if not isinstance(data, dict) or any(not isinstance(data.get(f), int if f == "tree_size" else str)
                                             for f in SIGNED_FIELDS):
            findings.add("checkpoint", str(event.get("streamid")), "a log.checkpoint that does not say what it "
                         f"signs (origin, tree_size, root_hash, time): {data!r}"[:300], str(event.get("id", "")))
            continue
        if event.get("source") != data["origin"]:
            findings.add("checkpoint", data["origin"], f"published by {event.get('source')}, not by the log it "
                         "signs", event["id"])
        by_origin[data["origin"]].setdefault(int(event["streamversion"]), Checkpoint(event))
    unchecked: dict[str, int] = {}
    for origin, versions in sorted(by_origin.items()):
        keys = jwks.get(service_of(origin)) or jwks.get(origin) or jwks.get(ALL_SERVICES)
        ordered = [versions[v] for v in sorted(versions)]
        if keys is None:
            unchecked[origin] = len(ordered)
        _check_log(origin, ordered, order.events(origin), keys, findings)
    findings.counts["checkpoints"] = sum(len(v) for v in by_origin.values())
    for origin, count in unchecked.items():
        findings.notes.append(f"{count} checkpoint(s) of {origin}: signatures not checked (no --log-jwks for "
                              f"{service_of(origin)}); roots and consistency checked against the topics")


def _check_log(origin: str, checkpoints: list[Checkpoint], events: list[Published], keys: dict[str, Any] | None,
               findings: Findings) -> None:
    leaves = [event_leaf(e.hash) for e in events]
    roots = roots_at(leaves, {c.data["tree_size"] for c in checkpoints})
    verified: Checkpoint | None = None  # the last checkpoint whose root the topics' events give
    previous: Checkpoint | None = None
    for checkpoint in checkpoints:
        data, event_id = checkpoint.data, checkpoint.event["id"]
        size = data["tree_size"]
        if not data.get("signature") or not data.get("key_id"):
            findings.add("checkpoint", origin, f"{checkpoint.name} is not signed", event_id)
        elif keys is not None:
            try:
                verify_checkpoint(data, keys)
            except LogTampered as exc:
                findings.add("checkpoint", origin, f"{checkpoint.name}: the signature does not verify: {exc}",
                             event_id)
        if previous is not None:
            _against_previous(origin, previous, checkpoint, findings)
        previous = checkpoint
        if size > len(events):
            last = events[-1].event_id if events else ""
            findings.add("checkpoint", origin, f"{checkpoint.name} signs {size} events, the topics hold "
                         f"{len(events)} of {origin}: the log was cut short after it (events "
                         f"{len(events) + 1}..{size} are missing; the last one left is {last or 'none'})",
                         event_id, last)
            continue
        if roots[size].hex() != data["root_hash"]:
            start = verified.data["tree_size"] if verified is not None else 0
            span = events[start:size]
            findings.add("checkpoint", origin, f"{checkpoint.name}: the first {size} events of {origin} on the "
                         f"topics do not have the signed root: events {start + 1}..{size} of its log (first and last "
                         "named) were rewritten, altered, dropped or reordered since it was signed",
                         event_id, *([span[0].event_id, span[-1].event_id] if span else []))
            continue
        if verified is not None and size >= verified.data["tree_size"]:  # a shrinking log is named above
            _consistent(origin, verified, checkpoint, leaves, findings)
        verified = checkpoint


def _against_previous(origin: str, old: Checkpoint, new: Checkpoint, findings: Findings) -> None:
    """What the two signed heads say of each other, whatever the topics hold: a log only grows."""
    ids = (new.event["id"], old.event["id"])
    if new.data["tree_size"] < old.data["tree_size"]:
        findings.add("checkpoint", origin, f"{new.name} signs fewer events than {old.name}: the log was cut short "
                     "between them", *ids)
    elif new.data["tree_size"] == old.data["tree_size"] and new.data["root_hash"] != old.data["root_hash"]:
        findings.add("checkpoint", origin, f"{new.name} and {old.name} sign two different logs of the same size: "
                     "history was rewritten between them", *ids)
    if new.data["time"] < old.data["time"]:
        findings.add("checkpoint", origin, f"{new.name} is dated {new.data['time']}, before {old.name} "
                     f"({old.data['time']})", *ids)


def _consistent(origin: str, old: Checkpoint, new: Checkpoint, leaves: list[bytes], findings: Findings) -> None:
    """RFC 9162 §2.1.4: the proof that the older tree is a prefix of the newer one, built from the topics' events
    and verified against the two signed roots."""
    m, n = old.data["tree_size"], new.data["tree_size"]
    try:
        proof = merkle.consistency_proof(m, leaves[:n])
        merkle.verify_consistency(m, n, bytes.fromhex(old.data["root_hash"]), bytes.fromhex(new.data["root_hash"]),
                                  proof)
    except (merkle.ProofFailed, ValueError) as exc:
        findings.add("checkpoint", origin, f"{new.name} is not consistent with {old.name}: {exc}",
                     new.event["id"], old.event["id"])
