"""The event every service writes about its own log to ``log.checkpoints``: a signed checkpoint (ADR 0022).

Subject: the log's origin (the service's source, ``/binhchon/<service>``)."""

from __future__ import annotations

from pydantic import Field

from binhchon_kit.contracts.registry import EventData, registered

TOPIC = "log.checkpoints"


@registered("log.checkpoint", topic=TOPIC)
class LogCheckpoint(EventData):
    """A service signed the state of its log: the RFC 9162 Merkle tree of its first ``tree_size`` events, in the
    order it published them.

    The signature is Ed25519 over the RFC 8785 form of ``{"origin", "tree_size", "root_hash", "time"}``; the
    public key, named by ``key_id``, is in the service's ``/log/jwks.json``. Leaf i of the tree is
    SHA-256(0x00 || the i-th published event's ``hash`` attribute, as UTF-8). Whoever keeps the checkpoints can
    ask the service for inclusion proofs of events and consistency proofs between two checkpoints
    (``/log/proofs/...``): a log rewritten or cut short after a checkpoint fails them."""

    origin: str = Field(description="the log: the source of the service whose events it orders")
    tree_size: int = Field(ge=0, description="how many published events the tree holds")
    root_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="the tree's root hash (MTH), lowercase hex")
    time: str = Field(description="when the service signed it (ISO 8601, UTC, milliseconds)")
    key_id: str = Field(description="the signing key's id in the service's /log/jwks.json")
    signature: str = Field(description="Ed25519 over the RFC 8785 form of origin, tree_size, root_hash and time, "
                                       "base64url without padding")
