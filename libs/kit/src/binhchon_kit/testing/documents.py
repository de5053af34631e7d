"""Documents with real content, for tests and benchmarks that file dossiers: intake accepts a dossier only when
each document it lists is stored (docs/adr/0045), so a test uploads the content before it files."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import httpx


def sample_pdf(title: str) -> bytes:
    """A small, valid one-page PDF showing ``title`` (ASCII), its cross-reference offsets computed."""
    text = title.encode("ascii", "replace").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    stream = b"BT /F1 14 Tf 72 770 Td (" + text + b") Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def listed(kind: str, file_name: str, content: bytes) -> dict[str, Any]:
    """A dossier's entry for ``content``, as the documents of a submission list it."""
    return {"kind": kind, "file_name": file_name, "size_bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest()}


# what the sample dossier (binhchon_kit.testing.samples.dossier_body) lists, by file name
SAMPLE_DOCUMENTS = {
    "phieu-dang-ky.pdf": ("registration_form", sample_pdf("Phieu dang ky san pham OCOP")),
    "phuong-an-kinh-doanh.pdf": ("business_plan", sample_pdf("Phuong an san xuat kinh doanh")),
}


def sample_listing() -> list[dict[str, Any]]:
    return [listed(kind, name, content) for name, (kind, content) in SAMPLE_DOCUMENTS.items()]


def sample_contents() -> list[tuple[str, bytes]]:
    """The sample dossier's documents as (file name, content), to upload."""
    return [(name, content) for name, (_, content) in SAMPLE_DOCUMENTS.items()]


async def upload(client: httpx.AsyncClient, headers: Mapping[str, str], file_name: str, content: bytes,
                 media_type: str = "application/pdf") -> httpx.Response:
    """``POST /documents`` of one file, as a browser's form sends it."""
    return await client.post("/documents", headers=dict(headers), files={"file": (file_name, content, media_type)})


async def upload_documents(client: httpx.AsyncClient, headers: Mapping[str, str],
                           documents: Sequence[tuple[str, bytes]] | None = None) -> list[dict[str, Any]]:
    """Upload ``documents`` (file name, content) to intake, by default the sample dossier's; answers what intake
    stored. Stored by content, so uploading again (another test, another applicant) stores nothing twice."""
    stored = []
    for name, content in documents if documents is not None else sample_contents():
        r = await upload(client, headers, name, content)
        assert r.status_code in (200, 201), r.text
        stored.append(r.json())
    return stored


def upload_documents_sync(client: httpx.Client, headers: Mapping[str, str],
                          documents: Sequence[tuple[str, bytes]] | None = None) -> list[dict[str, Any]]:
    """``upload_documents`` for the blocking clients of the demo and the scenarios (binhchon_tools)."""
    stored = []
    for name, content in documents if documents is not None else sample_contents():
        r = client.post("/documents", headers=dict(headers), files={"file": (name, content, "application/pdf")})
        if r.status_code not in (200, 201):
            raise RuntimeError(f"POST /documents: {r.status_code} {r.text[:300]}")
        stored.append(r.json())
    return stored
