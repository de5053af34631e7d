"""Verify a signed certificate offline: the JSON from /certificates/{number}, against the issuer's public keys
(the JSON from /.well-known/jwks.json, saved beforehand). Exit 0 when the signature holds, 1 when it does not.

    binhchon-verify certificate.json --jwks jwks.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from binhchon_kit.signing import verify_document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("certificate", type=Path)
    parser.add_argument("--jwks", type=Path, required=True)
    args = parser.parse_args(argv)
    document = json.loads(args.certificate.read_text(encoding="utf-8"))
    valid, why = verify_document(document, json.loads(args.jwks.read_text(encoding="utf-8")))
    number = document.get("certificate", {}).get("number", "?")
    print(f"{'VALID' if valid else 'INVALID'} {number}: {why}")
    if valid and document.get("status") not in (None, "valid"):
        print(f"note: the issuer reported this certificate as {document['status']} when it was downloaded")
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
