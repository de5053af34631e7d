"""Reading one uploaded file from a multipart/form-data body as it streams in: counted against the limit while it
arrives (a chunked body declares no size), spooled to disk past 1 MiB (never the whole file in memory), hashed
with SHA-256 and its type told by its first bytes (docs/adr/0045)."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import IO

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from binhchon_kit.text import normalise_text
from intake.adapters.documents import SNIFF_BYTES, media_type_of
from intake.domain.errors import Refused

FIELD = "file"
ENVELOPE_BYTES = 64 * 1024  # what a multipart body may carry beyond its file (boundaries, part headers)
READ_BYTES = 64 * 1024


class TooLarge(Exception):
    pass


@dataclass(frozen=True)
class Upload:
    content: IO[bytes]
    sha256: str
    size_bytes: int
    media_type: str
    file_name: str


def plain_file_name(name: str | None) -> str:
    """A file name as a name only: the last part of any path, NFC without invisible or control characters (NUL
    cuts it short in C libraries; CR/LF forge header lines in a Content-Disposition), at most 200 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(c for c in normalise_text(base) if unicodedata.category(c)[0] != "C").strip()
    return clean[:200] if clean not in ("", ".", "..") else "tai-lieu"


async def _counted(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise TooLarge
        yield chunk


async def receive_upload(request: Request, max_bytes: int) -> Upload:
    """The ``file`` field of the request's multipart body. Refuses (413) a file over ``max_bytes``, (415) one that
    is not a PDF, JPEG or PNG by its content or a body that is not multipart, (422) a body without the field."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise Refused("send the document as multipart/form-data, in the field 'file'", kind="unsupported_media_type",
                      field=FIELD)
    parser = MultiPartParser(request.headers, _counted(request, max_bytes + ENVELOPE_BYTES), max_files=1,
                             max_fields=8)
    try:
        form = await parser.parse()
    except TooLarge:
        raise _too_large(max_bytes) from None
    except MultiPartException as exc:
        raise Refused(f"the multipart body does not parse: {exc.message}", kind="invalid", field=FIELD) from None
    upload = form.get(FIELD)
    if not isinstance(upload, UploadFile):
        raise Refused("the body has no file in the field 'file'", kind="invalid", field=FIELD)
    digest, size = hashlib.sha256(), 0
    upload.file.seek(0)
    head = upload.file.read(SNIFF_BYTES)
    upload.file.seek(0)
    while block := upload.file.read(READ_BYTES):
        digest.update(block)
        size += len(block)
    if size > max_bytes:
        raise _too_large(max_bytes)
    if size == 0:
        raise Refused("the file is empty", kind="invalid", field=FIELD)
    media_type = media_type_of(head)
    if media_type is None:
        raise Refused("the file's content is not a PDF, JPEG or PNG (told by its first bytes, not its name)",
                      kind="unsupported_media_type", field=FIELD)
    return Upload(upload.file, digest.hexdigest(), size, media_type, plain_file_name(upload.filename))


def _too_large(max_bytes: int) -> Refused:
    return Refused(f"the file exceeds {max_bytes} bytes", kind="too_large", field=FIELD, max_bytes=max_bytes)
