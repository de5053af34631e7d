"""The JSON-LD contexts credentials use, from the files shipped beside this module: canonicalisation never
reaches the network, so what a signature covers cannot change with a server somewhere else."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from pyld.jsonld import JsonLdError

HERE = Path(__file__).resolve().parent / "contexts"
CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
OPEN_BADGES_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
DID_V1 = "https://www.w3.org/ns/did/v1"


@cache
def shipped() -> dict[str, dict[str, Any]]:
    """Every shipped context by its URL."""
    index: dict[str, str] = json.loads((HERE / "index.json").read_text(encoding="utf-8"))
    return {url: json.loads((HERE / name).read_text(encoding="utf-8")) for url, name in index.items()}


def document_loader(url: str, options: Any = None) -> dict[str, Any]:
    """pyld's document loader, from the shipped files only: an unknown URL is an error, not a download."""
    try:
        document = shipped()[url]
    except KeyError:
        raise JsonLdError(f"no shipped JSON-LD context for {url}", "jsonld.LoadDocumentError",
                          code="loading document failed") from None
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": document}
