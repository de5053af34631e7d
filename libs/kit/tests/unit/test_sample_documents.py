"""The tests' sample documents are real files (docs/adr/0045): PDFs a reader opens, listed by their true hash."""

from __future__ import annotations

import hashlib
import io

import pypdf

from binhchon_kit.testing.documents import SAMPLE_DOCUMENTS, listed, sample_pdf
from binhchon_kit.testing.samples import dossier_body


def test_a_sample_pdf_opens_and_shows_its_title() -> None:
    reader = pypdf.PdfReader(io.BytesIO(sample_pdf("Phieu (dang ky)")), strict=True)
    assert len(reader.pages) == 1 and reader.pages[0].extract_text() == "Phieu (dang ky)"


def test_the_sample_dossier_lists_its_documents_by_their_content() -> None:
    documents = dossier_body()["documents"]
    assert documents == [listed(kind, name, content) for name, (kind, content) in SAMPLE_DOCUMENTS.items()]
    for document in documents:
        content = SAMPLE_DOCUMENTS[document["file_name"]][1]
        assert document["sha256"] == hashlib.sha256(content).hexdigest() and document["size_bytes"] == len(content)
