"""Uploaded documents, content-addressed by SHA-256, in intake's own database with GridFS (docs/adr/0045).

A file's chunks are written under a fresh id first and its entry (``documents.files``, ``filename`` = the
content's SHA-256, unique) last: an upload that dies in between leaves chunks no entry names, which nothing serves
and ``forget_unfinished`` deletes later. Two uploads of the same content race on the unique entry: the one that
loses deletes its own chunks and answers with the winner's entry, so each content is stored once.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from bson import ObjectId
from gridfs import AsyncGridFSBucket
from gridfs.errors import FileExists
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from binhchon_kit import key_range

BUCKET = "documents"
CHUNK_BYTES = 255 * 1024  # GridFS's default: a chunk well under FerretDB's and MongoDB's 16 MiB document limit

# What a document may be, told by its first bytes (never by its name or the client's Content-Type)
MAGIC = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
SNIFF_BYTES = max(len(magic) for magic, _ in MAGIC)


def media_type_of(head: bytes) -> str | None:
    """The media type the content's first bytes show, or None: not a PDF, JPEG or PNG."""
    return next((media for magic, media in MAGIC if head.startswith(magic)), None)


@dataclass(frozen=True)
class StoredDocument:
    sha256: str
    size_bytes: int
    media_type: str
    file_name: str  # as its first uploader named it
    file_id: Any = None
    chunk_bytes: int = CHUNK_BYTES

    def body(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size_bytes": self.size_bytes, "media_type": self.media_type,
                "file_name": self.file_name}


def _stored(entry: dict[str, Any]) -> StoredDocument:
    meta = entry.get("metadata") or {}
    return StoredDocument(sha256=entry["filename"], size_bytes=entry["length"], media_type=meta["media_type"],
                          file_name=meta["file_name"], file_id=entry["_id"], chunk_bytes=entry["chunkSize"])


class Documents:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db
        self.files = db[f"{BUCKET}.files"]
        self.chunks = db[f"{BUCKET}.chunks"]

    @functools.cached_property
    def bucket(self) -> AsyncGridFSBucket:
        # made at first use: the unit tests' in-memory store (mongomock) is no AsyncDatabase, and stores no file
        return AsyncGridFSBucket(self.db, bucket_name=BUCKET, chunk_size_bytes=CHUNK_BYTES)

    async def setup(self) -> None:
        # the content address: one entry per SHA-256 (GridFS's own index on filename is not unique)
        await self.files.create_index("filename", unique=True)
        await self.chunks.create_index([("files_id", 1), ("n", 1)], unique=True)

    async def find(self, sha256: str) -> StoredDocument | None:
        """The entry of this content. Asked as a range of the unique ``filename`` index that holds only it (a
        SHA-256 is 64 hex digits; the range is a keyset page, which FerretDB walks in that index, ADR 0016): an
        equality on ``filename`` is a containment that read every entry (issue 14)."""
        found = await key_range.in_range(self.files, sha256, key_range.after(sha256), page=2, field="filename")
        entry = next((e for e in found if e["filename"] == sha256), None)
        return _stored(entry) if entry is not None else None

    async def find_many(self, sha256s: list[str]) -> dict[str, StoredDocument]:
        """The stored entries among ``sha256s``, by SHA-256: one index lookup each (``$in`` on ``filename`` is not
        pushed down: it read every entry)."""
        found = await asyncio.gather(*(self.find(sha256) for sha256 in sorted(set(sha256s))))
        return {stored.sha256: stored for stored in found if stored is not None}

    async def store(self, content: IO[bytes], *, sha256: str, size_bytes: int, media_type: str, file_name: str,
                    uploaded_by: str, uploaded_at: datetime) -> tuple[StoredDocument, bool]:
        """Store ``content`` (its SHA-256 and size already computed) unless it is stored; answers the entry and
        whether this call stored it. Each later uploader is recorded beside the first."""
        found = await self.find(sha256)
        if found is None:
            file_id = ObjectId()
            content.seek(0)
            metadata = {"media_type": media_type, "file_name": file_name, "uploaded_by": uploaded_by,
                        "uploaded_at": uploaded_at, "uploaders": [uploaded_by]}
            try:
                await self.bucket.upload_from_stream_with_id(file_id, sha256, content, metadata=metadata)
                stored = await self.find(sha256)
                assert stored is not None and stored.size_bytes == size_bytes
                return stored, True
            except (FileExists, DuplicateKeyError):  # the same content's entry was written first by another
                await self.chunks.delete_many({"files_id": file_id})
                found = await self.find(sha256)
                assert found is not None
        await self.files.update_one({"_id": found.file_id}, {"$addToSet": {"metadata.uploaders": uploaded_by}})
        return found, False

    async def complete(self, stored: StoredDocument) -> bool:
        """Whether every chunk of the entry is there (a store restored in part, or chunks deleted by hand, must
        not serve half a file)."""
        expected = math.ceil(stored.size_bytes / stored.chunk_bytes)
        return await self.chunks.count_documents({"files_id": stored.file_id}) == expected

    async def content(self, stored: StoredDocument) -> AsyncIterator[bytes]:
        stream = await self.bucket.open_download_stream(stored.file_id)
        try:
            while chunk := await stream.readchunk():
                yield chunk
        finally:
            await stream.close()

    async def forget_unfinished(self, before: datetime) -> int:
        """Delete chunks no entry names, written before ``before`` (uploads that died between their chunks and
        their entry; a younger one may still be writing). Answers how many chunks went."""
        named = {entry["_id"] async for entry in self.files.find({}, {"_id": 1})}
        orphans = [file_id for file_id in await self.chunks.distinct("files_id")
                   if file_id not in named and isinstance(file_id, ObjectId) and file_id.generation_time < before]
        if not orphans:
            return 0
        result = await self.chunks.delete_many({"files_id": {"$in": orphans}})
        return result.deleted_count
