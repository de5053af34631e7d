"""What a certificate says, as an Open Badges 3.0 credential (VC 2.0), and the documents a verifier needs
beside it: the issuer's did:web document and the signed Bitstring Status List (ADR 0032).

Every document here is a function of recorded facts and the signing key: no clock, no random id, so a
credential fetched twice is the same bytes and its proof the same signature (Ed25519 is deterministic)."""

from __future__ import annotations

import base64
import gzip
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from binhchon_kit.signing import Signer
from certification.adapters.pages import LEVELS
from certification.vc.contexts import CREDENTIALS_V2, DID_V1, MULTIKEY_V1, OPEN_BADGES_V3
from certification.vc.integrity import multikey, prove

LIST_SIZE = 131_072  # bits per status list: the spec's minimum (16 KiB), so one index says little about a holder
VIETNAM_OFFSET = "+07:00"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
ACHIEVEMENTS = uuid.UUID("6f1c2b8e-4d0a-5b7e-9c3f-2a1d0e8b7c65")  # the namespace of rating ids (uuid5)


def plain(text: str) -> str:
    """Free text as a credential carries it: control characters as spaces. Canonical N-Quads escape them
    differently in different RDFC-1.0 implementations; none is in a name anyone means."""
    return _CONTROL.sub(" ", text)


def did_web(public_url: str) -> str:
    """The service's did:web from its public address: ``http://127.0.0.1:8003`` → ``did:web:127.0.0.1%3A8003``;
    a path becomes colon-separated segments (its document then lives at ``<path>/did.json``)."""
    parts = urlsplit(public_url)
    segments = [quote(s, safe="") for s in parts.path.split("/") if s]
    return ":".join(["did:web", quote(parts.netloc, safe=""), *segments])


def verification_method(did: str, signer: Signer) -> str:
    return f"{did}#{signer.kid}"


def did_document(did: str, signer: Signer) -> dict[str, Any]:
    """The controller document: the signing key as a Multikey, allowed to assert credentials."""
    method = verification_method(did, signer)
    return {"@context": [DID_V1, MULTIKEY_V1], "id": did,
            "verificationMethod": [{"id": method, "type": "Multikey", "controller": did,
                                    "publicKeyMultibase": multikey(signer.public)}],
            "assertionMethod": [method]}


def _day_starts(day: date) -> str:
    return f"{day.isoformat()}T00:00:00{VIETNAM_OFFSET}"


def achievement_name(issued: Mapping[str, Any]) -> str:
    """``OCOP 4 sao``, or the label a programme without stars gives its rating."""
    label = plain(str(issued["rating_label"]))
    programme = str(issued["programme"])
    return label if label.upper().startswith(programme.upper()) else f"{programme} {label}"


def status_entry(status_url: str, index: int) -> dict[str, Any]:
    return {"id": f"{status_url}#{index}", "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
            "statusListIndex": str(index), "statusListCredential": status_url}


def open_badge(issued: Mapping[str, Any], *, credential_url: str, did: str, status: dict[str, Any],
               signer: Signer) -> dict[str, Any]:
    """The certificate as an OpenBadgeCredential: issuer the authority (as a Profile under the service's DID,
    the key that signs for every authority), subject the holder and its product, achievement the rating."""
    decision = issued["decision"]
    name = achievement_name(issued)
    product, holder = plain(issued["product_name"]), plain(issued["holder"]["name"])
    authority = plain(str(issued["issuer"]))
    issuer: dict[str, Any] = {"id": did, "type": ["Profile"], "name": authority}
    if decision.get("authority_id"):
        issuer["otherIdentifier"] = [{"type": ["IdentifierEntry"], "identifier": str(decision["authority_id"]),
                                      "identifierType": "identifier"}]
    level = LEVELS.get(str(issued["level"]), str(issued["level"]))
    rating_id = uuid.uuid5(ACHIEVEMENTS, f"{issued['programme']}|{issued['level']}|{issued['rating_label']}")
    criteria = (f"Quyết định số {plain(str(decision['number']))} ngày {decision['date']} của {authority}; "
                f"bộ tiêu chí {issued['rulebook_id']}; {issued['points']} điểm.")
    credential: dict[str, Any] = {
        "@context": [CREDENTIALS_V2, OPEN_BADGES_V3],
        "id": credential_url,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"Giấy chứng nhận {name}: {product}",
        "description": f"{product} của {holder} được công nhận {name} {level}, "
                       f"giấy chứng nhận số {issued['number']}.",
        "issuer": issuer,
        "validFrom": _day_starts(date.fromisoformat(str(decision["date"]))),
        "awardedDate": _day_starts(date.fromisoformat(str(issued["issued_on"]))),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": ["IdentityObject"], "identityType": "name", "hashed": False,
                            "identityHash": holder},
                           {"type": ["IdentityObject"], "identityType": "ext:product", "hashed": False,
                            "identityHash": product}],
            "achievement": {"id": rating_id.urn, "type": ["Achievement"], "achievementType": "Award",
                            "name": name, "humanCode": issued["number"],
                            "description": f"{name} {level}",
                            "criteria": {"narrative": criteria}},
            "result": [{"type": ["Result"], "value": str(issued["points"])}],
        },
        "credentialStatus": status,
    }
    if issued.get("valid_until"):
        # valid through its last day, in Vietnam: it ends as the next day starts
        credential["validUntil"] = _day_starts(date.fromisoformat(str(issued["valid_until"])) + timedelta(days=1))
    return prove(credential, signer.private, verification_method(did, signer))


def encoded_list(revoked: Iterable[int], size: int = LIST_SIZE) -> str:
    """The bitstring, index 0 the first byte's highest bit, gzipped (no timestamp: the same list, the same
    bytes) and multibase base64url: ``u…``."""
    bits = bytearray(size // 8)
    for index in revoked:
        bits[index // 8] |= 0x80 >> (index % 8)
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def status_list(status_url: str, *, did: str, revoked: Iterable[int], signer: Signer) -> dict[str, Any]:
    """The signed BitstringStatusListCredential: bit ``i`` set when the certificate at index ``i`` is revoked.
    It says when it is valid from nowhere: it is read as it stands when fetched."""
    credential = {
        "@context": [CREDENTIALS_V2],
        "id": status_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": did,
        "credentialSubject": {"id": f"{status_url}#list", "type": "BitstringStatusList",
                              "statusPurpose": "revocation", "encodedList": encoded_list(revoked)},
    }
    return prove(credential, signer.private, verification_method(did, signer))
