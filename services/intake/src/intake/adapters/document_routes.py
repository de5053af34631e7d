"""Documents as files (docs/adr/0045): an upload stored by its SHA-256, and a dossier's document served to those
who may read the dossier."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi import Path as FastPath
from fastapi.responses import JSONResponse, StreamingResponse

from intake.adapters.http import Applicant, DossierReader, Service
from intake.adapters.uploads import FIELD, receive_upload
from intake.domain.errors import Refused

router = APIRouter()

SHA256 = Annotated[str, FastPath(pattern=r"^[0-9a-f]{64}$", description="the content's SHA-256, lower-case hex")]
ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
STORED = {"application/json": {"schema": {"type": "object", "required": ["sha256", "size_bytes", "media_type",
                                                                         "file_name"], "properties": {
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "size_bytes": {"type": "integer"},
    "media_type": {"type": "string", "enum": ["application/pdf", "image/jpeg", "image/png"]},
    "file_name": {"type": "string"}}}}}
UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": [FIELD], "properties": {FIELD: {"type": "string", "format": "binary"}}}}}}}


@router.post("/documents", status_code=201, tags=["documents"], openapi_extra=UPLOAD_BODY,
             summary="upload a document (PDF, JPEG or PNG, told by its content) in the multipart field 'file'; "
                     "stored once by its SHA-256, which a dossier's document list then names",
             responses={201: {"description": "stored now", "content": STORED},
                        200: {"description": "the same content was stored before", "content": STORED},
                        413: {"description": "the file is larger than the service accepts (`max_bytes`)"},
                        415: {"description": "not multipart/form-data, or the file is not a PDF, JPEG or PNG by its "
                                             "content", "content": ERROR},
                        422: {"description": "no file in the field 'file', or an empty one", "content": ERROR}})
async def upload_document(request: Request, who: Applicant, svc: Service) -> JSONResponse:
    upload = await receive_upload(request, svc.document_max_bytes)
    try:
        stored, new = await svc.documents.store(
            upload.content, sha256=upload.sha256, size_bytes=upload.size_bytes, media_type=upload.media_type,
            file_name=upload.file_name, uploaded_by=who.subject, uploaded_at=svc.now())
    finally:
        upload.content.close()
    # the caller's own file name: the first uploader's may name other people (the content is the same)
    return JSONResponse({**stored.body(), "file_name": upload.file_name}, status_code=201 if new else 200)


@router.get("/dossiers/{dossier_id}/documents/{sha256}", tags=["documents"], response_class=StreamingResponse,
            summary="a document the dossier lists (as received or supplemented), as an attachment",
            responses={200: {"description": "the content", "content": {
                "application/pdf": {}, "image/jpeg": {}, "image/png": {}}}})
async def download_document(dossier_id: str, sha256: SHA256, svc: Service, who: DossierReader
                            ) -> StreamingResponse:
    _, events = await svc.load_dossier(dossier_id)
    listed = next((doc for event in events for doc in event.data.get("documents") or []
                   if isinstance(doc, dict) and doc.get("sha256") == sha256), None)
    stored = await svc.documents.find(sha256) if listed is not None else None
    # one answer for a document not listed, not stored, or stored in part: nothing is learnt from which
    if stored is None or not await svc.documents.complete(stored):
        raise Refused("the dossier has no such document", kind="not_found")
    return StreamingResponse(svc.documents.content(stored), media_type=stored.media_type, headers={
        "Content-Disposition": attachment(str(listed["file_name"])),  # type: ignore[index]
        "Content-Length": str(stored.size_bytes), "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store"})


def attachment(file_name: str) -> str:
    """``Content-Disposition: attachment`` for a name that may be Vietnamese (RFC 6266: an ASCII fallback and the
    UTF-8 name); no quote, backslash or control character reaches the header."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in file_name) or "tai-lieu"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"

