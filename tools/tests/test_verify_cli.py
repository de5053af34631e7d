"""Offline verification of a certificate file: intact passes, altered fails (pure: no server needed)."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.signing import Signer
from binhchon_tools import verify


def test_verify_file_intact_and_altered(tmp_path, capsys):
    signer = Signer(Ed25519PrivateKey.generate())
    body = {"number": "OCOP-UBNDTBG-2026-00001", "product_name": "Chè Tân Cương", "points": 75.86}
    document = {"certificate": body, "signature": {"alg": "EdDSA", "kid": signer.kid, "value": signer.sign(body)}}
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [signer.jwk()]}))
    (tmp_path / "cert.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    args = [str(tmp_path / "cert.json"), "--jwks", str(tmp_path / "jwks.json")]
    assert verify.main(args) == 0
    assert capsys.readouterr().out.startswith("VALID OCOP-UBNDTBG-2026-00001")

    document["certificate"]["product_name"] = "Chè Thái Nguyên"
    (tmp_path / "cert.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert verify.main(args) == 1
    assert "INVALID" in capsys.readouterr().out

    other = Signer(Ed25519PrivateKey.generate())
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [other.jwk()]}))
    assert verify.main(args) == 1
