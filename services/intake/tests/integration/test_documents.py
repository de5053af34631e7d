"""Documents are real files (ADR 0045), on the real store (FerretDB on PostgreSQL under the native stack): stored
once by SHA-256 through GridFS, refused by size and by content, named by a dossier only when stored, and served
only to those who may read the dossier."""

from __future__ import annotations

import asyncio
import hashlib
from urllib.parse import quote

import pytest
from bson import ObjectId

from binhchon_kit.testing.documents import listed, sample_pdf, upload, upload_documents
from intake.adapters.documents import BUCKET

from ..conftest import NOW, dossier_body, intake_settings, round_body, running_intake

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(300)
# larger than one GridFS chunk (255 KiB): the content spans chunks
REPORT = sample_pdf("Phieu ket qua kiem nghiem") + b"%" + b"0" * (600 * 1024) + b"\n"


async def _round(intake, auth, unique):
    r = await intake.post("/rounds", json=round_body(f"D{unique}"), headers=auth("sec-1", "secretariat"))
    assert r.status_code == 201, r.text
    return r.json()["round_id"]


async def test_an_upload_is_stored_once_by_its_content_and_typed_by_it(intake, auth):
    owner = auth("htx-a", "applicant")
    # sent as a hostile client would (httpx itself escapes control characters): a path, a NUL, a BEL
    name = "../../etc/Báo cáo\x00\x07.pdf".encode()
    body = (b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="' + name +
            b'"\r\nContent-Type: text/plain\r\n\r\n' + REPORT + b"\r\n--b0undary--\r\n")
    r = await intake.post("/documents", content=body,
                          headers={**owner, "content-type": "multipart/form-data; boundary=b0undary"})
    assert r.status_code == 201, r.text
    stored = r.json()
    assert stored == {"sha256": hashlib.sha256(REPORT).hexdigest(), "size_bytes": len(REPORT),
                      "media_type": "application/pdf", "file_name": "Báo cáo.pdf"}
    # the same content again, from another applicant and under another name: the same entry, stored once
    again = await upload(intake, auth("htx-b", "applicant"), "khac.pdf", REPORT)
    # stored once; each uploader reads back the name they gave, never another's (names often carry people's)
    assert again.status_code == 200 and again.json() == {**stored, "file_name": "khac.pdf"}
    db = intake.app.state.intake.rt.db
    entries = await db[f"{BUCKET}.files"].find({"filename": stored["sha256"]}).to_list()
    assert len(entries) == 1 and entries[0]["metadata"]["uploaded_by"] == "htx-a"
    assert entries[0]["metadata"]["uploaders"] == ["htx-a", "htx-b"]
    assert await db[f"{BUCKET}.chunks"].count_documents({"files_id": entries[0]["_id"]}) == 3
    # uploads of one content racing: both write chunks, one entry wins, the other's chunks are deleted
    photo = PNG + b"race" * 100_000
    raced = await asyncio.gather(*(upload(intake, auth(f"htx-{n}", "applicant"), "anh.png", photo) for n in range(3)))
    assert sorted(r.status_code for r in raced) == [200, 200, 201] and len({r.text for r in raced}) == 1
    entries = await db[f"{BUCKET}.files"].find({}).to_list()
    assert len([e for e in entries if e["filename"] == raced[0].json()["sha256"]]) == 1
    # no chunk left but those the entries name (the samples' one each, the report's three, the photo's two)
    assert await db[f"{BUCKET}.chunks"].count_documents({}) == sum(
        -(-e["length"] // e["chunkSize"]) for e in entries) == 2 + 3 + 2
    for name, content, media in (("anh.png", PNG, "image/png"), ("anh.jpg", JPEG, "image/jpeg")):
        r = await upload(intake, owner, name, content, media_type="application/octet-stream")
        assert r.status_code == 201 and r.json()["media_type"] == media, r.text


async def test_what_is_not_a_pdf_jpeg_or_png_or_too_large_is_refused(intake, auth, infra, unique, topic_prefix,
                                                                      dev_keys):
    owner = auth("htx-a", "applicant")
    # a name and a declared type do not make a PDF: the first bytes do
    r = await upload(intake, owner, "ho-so.pdf", b"<html><script>alert(1)</script>", media_type="application/pdf")
    assert r.status_code == 415 and "not a PDF, JPEG or PNG" in r.json()["detail"] and r.json()["field"] == "file"
    r = await intake.post("/documents", headers=owner, json={"file": "JVBERi0="})
    assert r.status_code == 415, r.text
    r = await intake.post("/documents", headers=owner, files={"other": ("a.pdf", REPORT, "application/pdf")})
    assert r.status_code == 422 and r.json()["field"] == "file"
    assert (await intake.post("/documents", files={"file": ("a.pdf", REPORT)})).status_code == 401
    assert (await intake.post("/documents", headers=auth("j", "judge"),
                              files={"file": ("a.pdf", REPORT)})).status_code == 403
    # a small limit: a declared length beyond it is refused before the body is read; a chunked one as it arrives
    settings = intake_settings(infra, f"{unique}s", topic_prefix, str(dev_keys[1]), document_max_bytes=200 * 1024)
    async with running_intake(settings) as small:
        r = await upload(small, owner, "bao-cao.pdf", REPORT)
        assert r.status_code == 413 and r.json()["max_body_bytes"] == 200 * 1024 + 64 * 1024, r.text

        async def chunked():
            boundary = b"--b0undary"
            yield boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
            for start in range(0, len(REPORT), 64 * 1024):
                yield REPORT[start:start + 64 * 1024]
            yield b"\r\n" + boundary + b"--\r\n"

        r = await small.post("/documents", content=chunked(),
                             headers={**owner, "content-type": "multipart/form-data; boundary=b0undary"})
        assert r.status_code == 413 and r.json()["max_bytes"] == 200 * 1024, r.text
        assert await small.app.state.intake.rt.db[f"{BUCKET}.files"].count_documents({}) == 0
        r = await upload(small, owner, "anh.png", PNG)
        assert r.status_code == 201, r.text


async def test_a_dossier_names_only_stored_documents_and_serves_them_to_its_readers(intake, auth, unique):
    round_id = await _round(intake, auth, unique)
    owner, other, sec = auth("htx-a", "applicant"), auth("htx-b", "applicant"), auth("sec-1", "secretariat")
    await upload_documents(intake, owner)
    body = dossier_body()
    unknown = {"kind": "test_report", "file_name": "kiem-nghiem.pdf", "size_bytes": 1000, "sha256": "c" * 64}
    r = await intake.post(f"/rounds/{round_id}/dossiers", headers=owner,
                          json={**body, "documents": [*body["documents"], unknown]})
    assert r.status_code == 422 and r.json()["field"] == "documents[2].sha256", r.text
    assert "upload it first" in r.json()["detail"]
    wrong_size = {**body["documents"][0], "size_bytes": body["documents"][0]["size_bytes"] + 1}
    r = await intake.post(f"/rounds/{round_id}/dossiers", headers=owner, json={**body, "documents": [wrong_size]})
    assert r.status_code == 422 and r.json()["field"] == "documents[0].size_bytes", r.text

    r = await intake.post(f"/rounds/{round_id}/dossiers", headers=owner, json=body)
    assert r.status_code == 201, r.text
    dossier_id = r.json()["dossier_id"]
    first = body["documents"][0]
    path = f"/dossiers/{dossier_id}/documents/{first['sha256']}"
    for reader in (owner, sec, auth("auditor-1", "auditor")):
        r = await intake.get(path, headers=reader)
        assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == first["sha256"]
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"] == 'attachment; filename="phieu-dang-ky.pdf"; ' \
                                                   "filename*=UTF-8''phieu-dang-ky.pdf"
        assert r.headers["x-content-type-options"] == "nosniff"
    # another applicant is refused by the dossier's policy (its own dossiers only), a judge by role
    assert (await intake.get(path, headers=other)).status_code == 403
    assert (await intake.get(path, headers=auth("cm-1", "judge"))).status_code == 403
    # stored, but not this dossier's: absent, as an unknown hash is
    r = await upload(intake, other, "anh.png", PNG)
    for sha in (r.json()["sha256"], "d" * 64):
        r = await intake.get(f"/dossiers/{dossier_id}/documents/{sha}", headers=owner)
        assert r.status_code == 404 and r.json() == {"detail": "the dossier has no such document"}

    # a supplement's documents are checked the same way, and once listed are served
    r = await intake.post(f"/dossiers/{dossier_id}/supplement-request", headers=sec, json={
        "items": [{"document_kind": "test_report", "description": "Phiếu kết quả kiểm nghiệm"}],
        "reason": "Thiếu phiếu kiểm nghiệm"})
    assert r.status_code == 201, r.text
    report = listed("test_report", "Phiếu kiểm nghiệm.pdf", REPORT)
    r = await intake.post(f"/dossiers/{dossier_id}/supplements", headers=owner, json={"documents": [report]})
    assert r.status_code == 422 and r.json()["field"] == "documents[0].sha256", r.text
    assert (await upload(intake, owner, "x.pdf", REPORT)).status_code in (200, 201)
    r = await intake.post(f"/dossiers/{dossier_id}/supplements", headers=owner, json={"documents": [report]})
    assert r.status_code == 201, r.text
    r = await intake.get(f"/dossiers/{dossier_id}/documents/{report['sha256']}", headers=sec)
    assert r.status_code == 200 and r.content == REPORT
    assert r.headers["content-disposition"] == ('attachment; filename="Phi_u ki_m nghi_m.pdf"; '
                                                f"filename*=UTF-8''{quote('Phiếu kiểm nghiệm.pdf', safe='')}")


async def test_an_upload_that_died_between_its_chunks_and_its_entry_serves_nothing(intake, auth, unique):
    """GridFS writes a file's chunks first and its entry last: a process that dies in between leaves chunks that
    no entry names. Nothing serves them, a dossier cannot name them, the same content uploads afresh, and the
    startup sweep deletes them once they are old."""
    svc = intake.app.state.intake
    content = sample_pdf("Ban tu cong bo") + b"%" + b"1" * (300 * 1024) + b"\n"
    sha = hashlib.sha256(content).hexdigest()
    dead = ObjectId.from_datetime(NOW)  # an upload that began at NOW and never finished
    stream = svc.documents.bucket.open_upload_stream_with_id(dead, sha, metadata={"media_type": "application/pdf"})
    await stream.write(content)
    await stream._flush_buffer(force=True)  # its chunks reach the store; the process dies before close()
    chunks = svc.documents.chunks
    assert await chunks.count_documents({"files_id": dead}) == 2
    assert await svc.documents.find(sha) is None

    owner = auth("htx-a", "applicant")
    round_id = await _round(intake, auth, unique)
    body = dossier_body(documents=[listed("quality_declaration", "cong-bo.pdf", content)])
    r = await intake.post(f"/rounds/{round_id}/dossiers", headers=owner, json=body)
    assert r.status_code == 422 and r.json()["field"] == "documents[0].sha256", r.text

    r = await upload(intake, owner, "cong-bo.pdf", content)
    assert r.status_code == 201, r.text
    r = await intake.post(f"/rounds/{round_id}/dossiers", headers=owner, json=body)
    assert r.status_code == 201, r.text
    dossier_id = r.json()["dossier_id"]
    r = await intake.get(f"/dossiers/{dossier_id}/documents/{sha}", headers=owner)
    assert r.status_code == 200 and r.content == content

    # the sweep leaves a young upload alone (it may still be writing), and deletes the dead one's chunks only
    assert await svc.documents.forget_unfinished(before=NOW) == 0
    assert await svc.documents.forget_unfinished(before=svc.now().replace(year=NOW.year + 1)) == 2
    assert await chunks.count_documents({"files_id": dead}) == 0
    stored = await svc.documents.find(sha)
    assert stored is not None and await svc.documents.complete(stored)

    # an entry whose chunks are not all there (a store restored in part) is not served half
    await chunks.delete_one({"files_id": stored.file_id, "n": 1})
    r = await intake.get(f"/dossiers/{dossier_id}/documents/{sha}", headers=owner)
    assert r.status_code == 404, r.text
