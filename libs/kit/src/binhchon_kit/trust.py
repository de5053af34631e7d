"""Which events a consumer may act on: only those the service owning the topic produced (ADR 0026).

Anyone who can write to a topic can put a CloudEvent there; what only the owning service can do is sign it.
The relay adds two extension attributes to every event it publishes: ``signature``, Ed25519 by the service's
log signing key (ADR 0022) over the ASCII bytes of the event's ``hash``, base64url without padding, and
``signaturekid``, that key's id in the service's JWKS (``/log/jwks.json``). Neither is hashed: the hash already
covers every hashed attribute and ``data``, and a hop may re-sign with a newer key without breaking the chain.

A consumer checks, before the inbox and the handler (``check``): the event's ``source`` is the topic's owner
(``topics.TOPIC_OWNERS``), ``hashalg`` is the current scheme, ``hash`` recomputes from the event as received,
and ``signature`` is by one of the owner's keys. The keys it trusts come from configuration
(``EVENT_PRODUCER_KEYS_DIR``: one ``<service>.jwks.json`` per producing service), else, on a developer's
machine, from the services' development log keys.

    python -m binhchon_kit.trust keys DIR      each service's log signing key in DIR (kept if there), and
                                               DIR/producers/<service>.jwks.json, what consumers trust
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from binhchon_kit.canonical import HASH_ALG, cloudevent_hash
from binhchon_kit.signing import Signer, public_key_from_jwk, verify_bytes
from binhchon_kit.topics import TOPIC_OWNERS, owner_of, source_of

log = logging.getLogger("binhchon.trust")

SIGNATURE = "signature"
SIGNATURE_KID = "signaturekid"
SIGNATURE_ATTRIBUTES = (SIGNATURE, SIGNATURE_KID)
PRODUCERS_DIR = "producers"  # beside the private keys, what `keys` writes for consumers


class Untrusted(Exception):
    """The event is not one its topic's owner produced, or not as it produced it: never acted on."""


def signed(cloudevent: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """The event as the relay publishes it: the producer's signature over its ``hash`` added."""
    return {**cloudevent, SIGNATURE: signer.sign_bytes(str(cloudevent["hash"]).encode("ascii")),
            SIGNATURE_KID: signer.kid}


@dataclass(frozen=True)
class ProducerKeys:
    """The public keys a consumer trusts, per producing service: service name → key id → key."""

    keys: Mapping[str, Mapping[str, Ed25519PublicKey]]

    @classmethod
    def from_jwks(cls, by_service: Mapping[str, Mapping[str, Any]]) -> ProducerKeys:
        """From each service's JWKS. One key under two services is refused: either could then sign as the other,
        and a consumer could no longer tell who produced an event."""
        keys: dict[str, dict[str, Ed25519PublicKey]] = {}
        owner_of_kid: dict[str, str] = {}
        for service, jwks in by_service.items():
            for jwk in jwks.get("keys", []):
                kid = str(jwk.get("kid", ""))
                if not kid:
                    raise ValueError(f"{service}: a key without a kid")
                if owner_of_kid.setdefault(kid, service) != service:
                    raise ValueError(f"key {kid} is both {owner_of_kid[kid]}'s and {service}'s: each service needs a "
                                     "signing key of its own")
                keys.setdefault(service, {})[kid] = public_key_from_jwk(jwk)
        return cls(keys)

    @classmethod
    def from_directory(cls, directory: str | Path) -> ProducerKeys:
        """``<service>.jwks.json`` for each producing service in ``directory``."""
        files = sorted(Path(directory).glob("*.jwks.json"))
        if not files:
            raise ValueError(f"{directory}: no <service>.jwks.json file: no producer would be trusted")
        return cls.from_jwks({f.name.removesuffix(".jwks.json"): json.loads(f.read_text(encoding="utf-8"))
                              for f in files})

    @classmethod
    def development(cls, services: Iterable[str] = TOPIC_OWNERS.values()) -> ProducerKeys:
        """The development log keys of ``services`` on this machine (created if missing), as each service signs
        with when no LOG_SIGNING_KEY_FILE is set: what `make up` and in-process tests run with."""
        return cls.from_jwks({s: {"keys": [dev_log_signer(s).jwk()]} for s in services})

    def service_of(self, kid: str) -> str | None:
        return next((service for service, keys in self.keys.items() if kid in keys), None)


def dev_log_signer(service: str) -> Signer:
    """A service's development log signing key (``~/.cache/binhchon/dev-keys/log-signing-<service>-dev.pem``)."""
    from binhchon_kit.auth.devtoken import key_dir

    return Signer.from_settings("", "", key_dir(), dev_file=f"log-signing-{service}-dev.pem")


def check(event: Mapping[str, Any], topic: str, trusted: ProducerKeys) -> None:
    """Raise ``Untrusted`` with the reason unless ``event`` (a CloudEvent as received, parsed JSON) was produced,
    as it is, by the service that owns ``topic`` (unprefixed)."""
    owner = owner_of(topic)
    if owner is None:
        raise Untrusted(f"no single service owns {topic}: nothing on it is acted on")
    if event.get("source") != source_of(owner):
        raise Untrusted(f"source {event.get('source')!r} is not {source_of(owner)}, the owner of {topic}")
    if event.get("hashalg") != HASH_ALG:
        scheme = event.get("hashalg") or "none (the legacy scheme)"
        raise Untrusted(f"hash scheme {scheme} is not accepted: only {HASH_ALG}")
    try:
        recomputed = cloudevent_hash(event)
    except (TypeError, ValueError) as exc:
        raise Untrusted(f"the event cannot be hashed: {exc}") from exc
    if recomputed != event.get("hash"):
        raise Untrusted(f"hash {str(event.get('hash'))[:16]}… does not match the event (recomputed "
                        f"{recomputed[:16]}…): altered or made up")
    signature, kid = event.get(SIGNATURE), event.get(SIGNATURE_KID)
    if not isinstance(signature, str) or not isinstance(kid, str):
        raise Untrusted(f"not signed: no {SIGNATURE} and {SIGNATURE_KID}")
    key = trusted.keys.get(owner, {}).get(kid)
    if key is None:
        other = trusted.service_of(kid)
        raise Untrusted(f"signed by key {kid}, " + (f"{other}'s, " if other else "unknown, ")
                        + f"not one of {owner}'s")
    if not verify_bytes(key, signature, recomputed.encode("ascii")):
        raise Untrusted(f"the signature is not {owner}'s key {kid}'s over the event's hash")


def write_keys(directory: Path, services: Iterable[str] = TOPIC_OWNERS.values()) -> list[Path]:
    """Each service's log signing key ``log-signing-<service>.pem`` in ``directory`` (an existing one kept), and
    its public JWKS in ``directory/producers/<service>.jwks.json``. Returns the JWKS files."""
    written = []
    (directory / PRODUCERS_DIR).mkdir(parents=True, exist_ok=True)
    for service in services:
        signer = Signer.from_settings("", "", directory, dev_file=f"log-signing-{service}.pem")
        jwks = directory / PRODUCERS_DIR / f"{service}.jwks.json"
        jwks.write_text(json.dumps({"keys": [signer.jwk()]}, indent=2) + "\n", encoding="utf-8")
        written.append(jwks)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Event signing keys: each service's, and what consumers trust.")
    sub = parser.add_subparsers(dest="command", required=True)
    keys = sub.add_parser("keys", help="create the services' log signing keys and their public JWKS files")
    keys.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    for path in write_keys(args.directory):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
