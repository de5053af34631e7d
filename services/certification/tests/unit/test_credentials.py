"""Certificates as Verifiable Credentials (ADR 0032), without infrastructure: the proof reproduces the W3C
vc-di-eddsa test vector, the credential has the Open Badges 3.0 shape, verifies with the DID document's key and
fails once altered, and the status list's bits sit where the Bitstring Status List puts them."""

from __future__ import annotations

import base64
import copy
import gzip
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.signing import Signer
from certification.vc import credentials, integrity
from certification.vc.contexts import CREDENTIALS_V2, OPEN_BADGES_V3, document_loader, shipped
from certification.vc.status import place

BASE = "https://chungnhan.example.vn"
STATUS = f"{BASE}/status/0.vc.json"
ISSUED: dict[str, Any] = {
    "certificate_id": "certificate-1", "number": "OCOP-T.24-2026-00007", "dossier_id": "dossier-1",
    "round_id": "round-1", "programme": "OCOP", "level": "province", "product_name": "Rượu nếp cẩm\tĐông Hưng",
    "holder": {"name": "Hợp tác xã Đông Hưng", "address": "Xã Đông Hưng", "registration_number": None},
    "rating_label": "4 sao", "stars": 4, "points": 78.25,
    "decision": {"number": "88/QĐ-UBND", "date": "2026-11-20", "signer": "Nguyễn Thị Ký",
                 "authority": "UBND tỉnh Bắc Giang", "authority_id": "province:24"},
    "issued_on": "2026-11-23", "valid_until": "2029-11-20", "issuer": "UBND tỉnh Bắc Giang",
    "rulebook_id": "ocop-2023", "result_event_id": "event-1", "supersedes": None, "province_code": "24",
}

# the vc-di-eddsa specification's eddsa-rdfc-2022 test vector (its key pair, credential and proof)
VECTOR_SECRET = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
VECTOR_PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
VECTOR_CREDENTIAL = {
    "@context": [CREDENTIALS_V2, EXAMPLES_V2], "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"], "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.", "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
}
VECTOR_PROOF_VALUE = "z21EVs3eXERqTn4acNHT9viboqgzUaQ3kTmhPT3eA8qrVPE7CrQq78WkzctnMX5W4CrzcKnHw8V6dvy5pgWYCU5e9"


def vector_loader(url: str, options: Any = None) -> dict[str, Any]:
    if url == EXAMPLES_V2:  # the examples context: every term in the examples vocabulary
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                "document": {"@context": {"@vocab": "https://www.w3.org/ns/credentials/examples#"}}}
    return document_loader(url, options)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


def badge(signer: Signer, index: int = 7) -> dict[str, Any]:
    return credentials.open_badge(ISSUED, credential_url=f"{BASE}/certificates/{ISSUED['number']}.vc.json",
                                  did=credentials.did_web(BASE), status=credentials.status_entry(STATUS, index),
                                  signer=signer)


def test_the_proof_is_the_specifications_test_vector():
    secret = integrity.from_base58btc(VECTOR_SECRET.removeprefix("z"))
    assert secret[:2] == b"\x80\x26"  # an Ed25519 private key's multicodec prefix
    key = Ed25519PrivateKey.from_private_bytes(secret[2:])
    assert integrity.multikey(key.public_key()) == VECTOR_PUBLIC
    proved = integrity.prove(VECTOR_CREDENTIAL, key, f"https://vc.example/issuers/5678#{VECTOR_PUBLIC}",
                             created="2023-02-24T23:36:38Z", loader=vector_loader)
    assert proved["proof"] == {
        "type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "created": "2023-02-24T23:36:38Z",
        "verificationMethod": f"https://vc.example/issuers/5678#{VECTOR_PUBLIC}", "proofPurpose": "assertionMethod",
        "proofValue": VECTOR_PROOF_VALUE}
    assert integrity.verified(proved, key.public_key(), vector_loader)


@pytest.mark.parametrize(("url", "did"), [
    ("https://chungnhan.example.vn", "did:web:chungnhan.example.vn"),
    ("http://127.0.0.1:8003/", "did:web:127.0.0.1%3A8003"),
    ("https://example.gov.vn/chung-nhan/ocop", "did:web:example.gov.vn:chung-nhan:ocop"),
])
def test_the_did_follows_the_public_address(url, did):
    assert credentials.did_web(url) == did


def test_the_did_document_names_the_signing_key_for_assertions(signer):
    did = credentials.did_web(BASE)
    document = credentials.did_document(did, signer)
    method = document["verificationMethod"][0]
    assert method == {"id": f"{did}#{signer.kid}", "type": "Multikey", "controller": did,
                      "publicKeyMultibase": integrity.multikey(signer.public)}
    assert document["assertionMethod"] == [method["id"]]
    assert integrity.public_key_of(method["publicKeyMultibase"]).public_bytes_raw() == signer.public.public_bytes_raw()


def test_a_certificate_is_an_open_badge_with_its_rating_and_status(signer):
    vc = badge(signer)
    did = credentials.did_web(BASE)
    assert vc["@context"] == [CREDENTIALS_V2, OPEN_BADGES_V3]
    assert set(shipped()) >= set(vc["@context"])
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["issuer"] == {"id": did, "type": ["Profile"], "name": "UBND tỉnh Bắc Giang", "otherIdentifier": [
        {"type": ["IdentifierEntry"], "identifier": "province:24", "identifierType": "identifier"}]}
    # valid from the decision's day through the last day of its validity, in Vietnam
    assert (vc["validFrom"], vc["validUntil"]) == ("2026-11-20T00:00:00+07:00", "2029-11-21T00:00:00+07:00")
    subject = vc["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["achievement"]["name"] == "OCOP 4 sao"
    assert subject["achievement"]["type"] == ["Achievement"]
    # a tab in a name is a space in the credential: no control character reaches the canonical form
    assert [i["identityHash"] for i in subject["identifier"]] == ["Hợp tác xã Đông Hưng", "Rượu nếp cẩm Đông Hưng"]
    assert "registration_number" not in str(vc)  # the holder's identifier stays out, as in the signed JSON
    assert vc["credentialStatus"] == {"id": f"{STATUS}#7", "type": "BitstringStatusListEntry",
                                      "statusPurpose": "revocation", "statusListIndex": "7",
                                      "statusListCredential": STATUS}
    assert vc["proof"]["verificationMethod"] == f"{did}#{signer.kid}"
    assert vc["proof"]["proofValue"].startswith("z")


def test_the_proof_holds_and_breaks_once_the_rating_is_changed(signer):
    vc = badge(signer)
    assert integrity.verified(vc, signer.public)
    assert badge(signer) == vc  # the same certificate, the same credential, byte for byte
    tampered = copy.deepcopy(vc)
    tampered["credentialSubject"]["achievement"]["name"] = "OCOP 5 sao"
    assert not integrity.verified(tampered, signer.public)
    moved = copy.deepcopy(vc)
    moved["credentialStatus"]["statusListIndex"] = "8"  # pointing at another certificate's bit
    assert not integrity.verified(moved, signer.public)
    other = Signer(Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))))
    assert not integrity.verified(vc, other.public)


def bits(encoded: str) -> bytes:
    assert encoded.startswith("u")
    return gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))


def test_the_status_list_sets_the_revoked_bits_from_the_left(signer):
    listed = credentials.status_list(STATUS, did=credentials.did_web(BASE), revoked=[0, 9, 131_071], signer=signer)
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    subject = listed["credentialSubject"]
    assert (subject["type"], subject["statusPurpose"], subject["id"]) == ("BitstringStatusList", "revocation",
                                                                           f"{STATUS}#list")
    raw = bits(subject["encodedList"])
    assert len(raw) == 16 * 1024
    assert (raw[0], raw[1], raw[-1]) == (0b1000_0000, 0b0100_0000, 0b0000_0001)
    assert sum(bin(b).count("1") for b in raw) == 3
    assert integrity.verified(listed, signer.public)
    assert listed == credentials.status_list(STATUS, did=credentials.did_web(BASE), revoked=[0, 9, 131_071],
                                             signer=signer)


def test_positions_fill_one_list_then_the_next():
    assert place(0) == (0, 0)
    assert place(credentials.LIST_SIZE - 1) == (0, credentials.LIST_SIZE - 1)
    assert place(credentials.LIST_SIZE + 3) == (1, 3)
