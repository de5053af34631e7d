"""What an auditor needs to check a service's log from outside: a signed checkpoint against the service's JWKS,
and the inclusion and consistency proofs the service serves, as JSON (ADR 0022).

Nothing here reads a store or the network: it takes the JSON documents and says what is wrong, naming the event
or the checkpoints. An independent verifier needs only RFC 9162 §2.1, RFC 8785 and Ed25519 to do the same.
"""

from __future__ import annotations

from typing import Any

from binhchon_kit import merkle
from binhchon_kit.signing import verify_document

SIGNED_FIELDS = ("origin", "tree_size", "root_hash", "time")


class LogTampered(Exception):
    """The log is not what a signed checkpoint says it was: rewritten, altered or cut short."""


def signed_body(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The part of a ``log.checkpoint``'s data its signature covers."""
    return {name: checkpoint[name] for name in SIGNED_FIELDS}


def event_leaf(event_hash: str) -> bytes:
    """The Merkle leaf hash of a published event: its ``hash`` attribute, as UTF-8, is the leaf's data."""
    return merkle.leaf_hash(event_hash.encode("utf-8"))


def verify_checkpoint(checkpoint: dict[str, Any], jwks: dict[str, Any]) -> None:
    """Raises LogTampered unless ``checkpoint`` (a ``log.checkpoint``'s data) is signed by a key of ``jwks``."""
    try:
        body = signed_body(checkpoint)
        signature = {"alg": "EdDSA", "kid": checkpoint["key_id"], "value": checkpoint["signature"]}
    except KeyError as exc:
        raise LogTampered(f"the checkpoint has no {exc.args[0]}") from None
    valid, why = verify_document({"checkpoint": body, "signature": signature}, jwks, body_key="checkpoint")
    if not valid:
        raise LogTampered(f"checkpoint of {body['tree_size']} events of {body['origin']}: {why}")


def verify_inclusion(answer: dict[str, Any], checkpoint: dict[str, Any], jwks: dict[str, Any], *,
                     event_hash: str | None = None) -> None:
    """Check an inclusion proof (``GET /log/proofs/inclusion``) against a signed checkpoint.

    The leaf is the event's hash: ``event_hash`` when the auditor has its own copy of the event (from Kafka),
    else the hash the service's store holds now (``answer["event_hash"]``). Raises LogTampered naming the event."""
    verify_checkpoint(checkpoint, jwks)
    name = f"event {answer.get('event_id')} ({answer.get('event_key')})"
    if answer.get("origin") != checkpoint["origin"] or answer.get("tree_size") != checkpoint["tree_size"]:
        raise LogTampered(f"{name}: the proof is not for the checkpoint of {checkpoint['tree_size']} events of "
                          f"{checkpoint['origin']}")
    held = event_hash if event_hash is not None else answer.get("event_hash")
    if held is None:
        raise LogTampered(f"{name}: leaf {answer.get('leaf_index')} of the log names it, but the store no longer "
                          "has the event")
    try:
        path = [bytes.fromhex(h) for h in answer["audit_path"]]
        merkle.verify_inclusion(int(answer["leaf_index"]), int(checkpoint["tree_size"]), event_leaf(held), path,
                                bytes.fromhex(checkpoint["root_hash"]))
    except merkle.ProofFailed as exc:
        raise LogTampered(f"{name}, hash {held}: not in the log the checkpoint of {checkpoint['tree_size']} "
                          f"events signed ({exc}): the event or the log was altered") from None
    except (KeyError, ValueError) as exc:
        raise LogTampered(f"{name}: the proof does not read ({exc})") from None


def verify_consistency(answer: dict[str, Any], old: dict[str, Any], new: dict[str, Any],
                       jwks: dict[str, Any]) -> None:
    """Check a consistency proof (``GET /log/proofs/consistency``) between two signed checkpoints of one log:
    the older one's events are the first events of the newer one, unchanged. Raises LogTampered naming both."""
    verify_checkpoint(old, jwks)
    verify_checkpoint(new, jwks)
    names = f"checkpoints of {old['tree_size']} and {new['tree_size']} events of {old['origin']}"
    if old["origin"] != new["origin"]:
        raise LogTampered(f"{names}: they are of two logs ({old['origin']}, {new['origin']})")
    if (answer.get("first"), answer.get("second")) != (old["tree_size"], new["tree_size"]):
        raise LogTampered(f"{names}: the proof is between sizes {answer.get('first')} and {answer.get('second')}")
    try:
        merkle.verify_consistency(int(old["tree_size"]), int(new["tree_size"]), bytes.fromhex(old["root_hash"]),
                                  bytes.fromhex(new["root_hash"]), [bytes.fromhex(h) for h in answer["proof"]])
    except merkle.ProofFailed as exc:
        raise LogTampered(f"{names}: the newer log does not extend the older one ({exc}): history was rewritten "
                          "or cut short") from None
    except (KeyError, ValueError) as exc:
        raise LogTampered(f"{names}: the proof does not read ({exc})") from None
