"""A relying party verifies certificates with its own tools (issue 13 item 8, ADR 0032): certificates issued
through certification's normal flow (result.approved on the real broker, the real store), their credentials, the
issuer's DID document and the status list fetched over HTTP and written to files, then checked by Digital
Bazaar's @digitalbazaar/vc with the eddsa-rdfc-2022 cryptosuite on Node, offline: issued → verified, a changed
rating → not verified, revoked → the status list says revoked."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from binhchon_kit.testing.fixtures import eventually
from certification.vc.contexts import HERE as CONTEXTS

pytestmark = pytest.mark.integration
VERIFIER = Path(__file__).resolve().parents[1] / "vc"
NPM_CACHE = Path.home() / ".cache" / "binhchon" / "npm"
PUBLIC = "https://chungnhan.example.vn"  # the service's public address: its DID is did:web:chungnhan.example.vn
DID_URL = f"{PUBLIC}/.well-known/did.json"  # where a did:web resolver reads that DID's document


def relying_party() -> Path:
    """The verifier's packages, as package-lock.json pins them: installed once with `npm ci` (the cache outside
    the repository), again only when the lock changes. No Node or no npm is a failure saying so, never a skip."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("the relying party's verifier needs Node 20 and npm (Debian: apt-get install nodejs npm)")
    lock = hashlib.sha256((VERIFIER / "package-lock.json").read_bytes()).hexdigest()
    stamp = VERIFIER / "node_modules" / ".binhchon-lock-sha256"
    if not stamp.exists() or stamp.read_text() != lock:
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--cache", str(NPM_CACHE)], cwd=VERIFIER,
                              capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            pytest.fail(f"npm ci for the relying party's verifier failed:\n{done.stdout}\n{done.stderr}")
        stamp.write_text(lock)
    return Path(node)


def verify(node: Path, folder: Path, name: str, credential: dict[str, Any], documents: dict[str, Any],
           now: str) -> dict[str, Any]:
    """Write the credential and what was fetched beside it, and ask the Node verifier: {verified, errors,
    revoked, proof_verified}."""
    case = folder / name
    case.mkdir()
    (case / "credential.json").write_text(json.dumps(credential, ensure_ascii=False), encoding="utf-8")
    files = {}
    for i, (url, document) in enumerate(documents.items()):
        files[url] = str(case / f"document-{i}.json")
        Path(files[url]).write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    spec = {"credential": str(case / "credential.json"), "now": now, "contexts": str(CONTEXTS), "documents": files}
    (case / "case.json").write_text(json.dumps(spec), encoding="utf-8")
    done = subprocess.run([str(node), "verify.mjs", str(case / "case.json")], cwd=VERIFIER, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def set_bits(status_list: dict[str, Any]) -> list[int]:
    encoded = status_list["credentialSubject"]["encodedList"][1:]
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    return [i for i in range(len(raw) * 8) if raw[i // 8] & (0x80 >> (i % 8))]


async def test_a_relying_party_verifies_issued_tampered_and_revoked_credentials(env, auth, tmp_path):
    node = relying_party()
    now = env.clock.now().isoformat()
    async with env.running(public_base_url=PUBLIC) as cert:
        await env.approve(env.result("dossier-vc-1"), env.result("dossier-vc-2", product="Mật ong hoa nhãn"))

        async def issued():
            items = (await cert.get("/registry.json")).json()["items"]
            return sorted(i["number"] for i in items) if len(items) == 2 else None

        first, second = await eventually(issued, what="two certificates issued")

        async def fetch(path: str, media_type: str) -> dict[str, Any]:
            r = await cert.get(path)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith(media_type)
            return r.json()  # type: ignore[no-any-return]

        credential = await fetch(f"/certificates/{first}.vc.json", "application/vc+ld+json")
        other = await fetch(f"/certificates/{second}.vc.json", "application/vc+ld+json")
        assert credential["issuer"]["id"] == "did:web:chungnhan.example.vn"
        assert credential["credentialSubject"]["achievement"]["name"] == "OCOP 4 sao"
        status = credential["credentialStatus"]
        # each certificate its own index, in the same list
        assert status["statusListIndex"] != other["credentialStatus"]["statusListIndex"]
        assert status["statusListCredential"] == other["credentialStatus"]["statusListCredential"]
        list_url = status["statusListCredential"]
        list_path = list_url.removeprefix(PUBLIC)
        did_document = await fetch("/.well-known/did.json", "application/did+ld+json")
        status_list = await fetch(list_path, "application/vc+ld+json")
        assert set_bits(status_list) == []
        assert (await cert.get("/status/7.vc.json")).status_code == 404  # no certificate is in list 7

        fetched = {DID_URL: did_document, list_url: status_list}
        assert verify(node, tmp_path, "issued", credential, fetched, now) == {
            "verified": True, "errors": [], "revoked": False, "proof_verified": True}

        tampered = json.loads(json.dumps(credential))
        tampered["credentialSubject"]["achievement"]["name"] = "OCOP 5 sao"
        outcome = verify(node, tmp_path, "tampered", tampered, fetched, now)
        assert outcome["verified"] is False and outcome["proof_verified"] is False
        assert "Invalid signature." in outcome["errors"]

        r = await cert.post(f"/certificates/{first}/revocation", json={"reason": "Sản phẩm không còn sản xuất"},
                            headers=auth("ubnd", "approver", authorities=("province:24",)))
        assert r.status_code == 201, r.text
        index = int(status["statusListIndex"])

        async def revoked_listed():
            listed = await fetch(list_path, "application/vc+ld+json")
            return listed if set_bits(listed) == [index] else None

        status_list = await eventually(revoked_listed, what="the revocation in the status list")
        # the revoked certificate's credential is the one the holder already has, and the relying party learns
        # of the revocation from the list alone
        assert await fetch(f"/certificates/{first}.vc.json", "application/vc+ld+json") == credential
        fetched = {DID_URL: did_document, list_url: status_list}
        outcome = verify(node, tmp_path, "revoked", credential, fetched, now)
        assert outcome["verified"] is False and outcome["revoked"] is True and outcome["proof_verified"] is True
        assert verify(node, tmp_path, "still-valid", other, fetched, now) == {
            "verified": True, "errors": [], "revoked": False, "proof_verified": True}
