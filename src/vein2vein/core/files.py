"""Shared file storage: an uploaded PDF checked and hashed in constant memory, a stored file's
SHA-256, and the copy that is served only while its hash still matches.

Files live in Django's default storage (MEDIA_ROOT), never served directly: only through a
permission-checked view, which recomputes the SHA-256 on the fly and refuses a mismatch
(documents, material CoAs, equipment service records, batch attachments).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from typing import IO

from django.core.files import File
from django.core.files.storage import default_storage
from django.utils.text import get_valid_filename

from vein2vein.core.errors import ValidationFailed

PDF_MAGIC = b"%PDF-"
MAX_FILE_BYTES = 50 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
MAX_NAME_CHARS = 50  # of the stored name; the original name is kept in file_name


@dataclass(frozen=True)
class CheckedFile:
    original_name: str
    stored_name: str
    sha256: str
    size: int


def sha256_of_chunks(chunks: object) -> tuple[str, int]:
    """SHA-256 and length of an iterable of byte chunks, holding one chunk at a time."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:  # type: ignore[attr-defined]
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _original_name(upload: File) -> str:  # type: ignore[type-arg]
    raw = os.path.basename(str(upload.name or "").replace("\\", "/")).strip()
    if not raw:
        raise ValidationFailed("file needs a name ending in .pdf", field="file")
    if len(raw) > 255:
        raise ValidationFailed("file name must be at most 255 characters", field="file")
    if any(ord(c) < 32 for c in raw):
        raise ValidationFailed("file name contains control characters", field="file")
    if not raw.lower().endswith(".pdf"):
        raise ValidationFailed(f"file {raw!r} must be a PDF (name ending in .pdf)", field="file")
    return raw


def _stored_name(original: str) -> str:
    stem = get_valid_filename(original[:-4]) or "document"
    return f"{stem[: MAX_NAME_CHARS - 4]}.pdf"


def check_pdf(upload: object) -> CheckedFile:
    """Validate an uploaded PDF (name, size, magic bytes) and hash it, in constant memory."""
    if not isinstance(upload, File):
        raise ValidationFailed("file must be an uploaded PDF", field="file")
    name = _original_name(upload)
    too_big = f"file {name!r} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"
    if (upload.size or 0) > MAX_FILE_BYTES:
        raise ValidationFailed(too_big, field="file")
    upload.seek(0)
    head = upload.read(len(PDF_MAGIC))
    if head != PDF_MAGIC:
        raise ValidationFailed(
            f"file {name!r} is not a PDF: it does not start with %PDF-", field="file"
        )
    upload.seek(0)
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks(CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise ValidationFailed(too_big, field="file")
        digest.update(chunk)
    upload.seek(0)
    return CheckedFile(name, _stored_name(name), digest.hexdigest(), size)


def stored_sha256(name: str) -> str | None:
    """SHA-256 of a stored file, streamed; None when the file is missing."""
    if not name or not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as fh:
        return sha256_of_chunks(iter(lambda: fh.read(CHUNK_BYTES), b""))[0]


def verified_copy(name: str, expected_sha256: str) -> IO[bytes] | None:
    """A private copy of the stored file, made while hashing it, if the hash still matches.

    Serving the copy (not the stored file) means the bytes sent are exactly the bytes checked,
    even if someone writes to the stored file in between. Spooled: small in memory, large on
    disk. None when the file is missing or no longer matches.
    """
    if not name or not default_storage.exists(name):
        return None
    copy = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115 - returned
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
            digest.update(chunk)
            copy.write(chunk)
    if digest.hexdigest() != expected_sha256:
        copy.close()
        return None
    copy.seek(0)
    return copy


def make_read_only(name: str) -> None:
    """Drop write permission on a stored file once its draft is submitted (where the storage
    is a file system); the SHA-256 check on every read is the real guard."""
    try:
        path = default_storage.path(name)
    except NotImplementedError:
        return
    if os.path.exists(path):
        os.chmod(path, stat.S_IRUSR | stat.S_IRGRP)


def delete_orphan(name: str) -> None:
    """Remove a file whose database row was never committed (the write was refused)."""
    if name and default_storage.exists(name):
        default_storage.delete(name)
