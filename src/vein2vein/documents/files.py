"""The PDF of a version: checked at upload, hashed in constant memory, re-checked when served.

Files live in Django's default storage (MEDIA_ROOT), never served directly: only through the
permission-checked view, which recomputes the SHA-256 on the fly and refuses a mismatch.
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


YAML_SUFFIXES = (".yaml", ".yml")
MAX_YAML_BYTES = 1024 * 1024


def check_yaml(upload: object) -> CheckedFile:
    """Validate an uploaded master batch record file: a .yaml/.yml name, UTF-8 text without NUL,
    at most 1 MB, hashed as it is stored. What it says is checked by the manufacturing app."""
    if not isinstance(upload, File):
        raise ValidationFailed("file must be an uploaded YAML file", field="file")
    raw = os.path.basename(str(upload.name or "").replace("\\", "/")).strip()
    if not raw.lower().endswith(YAML_SUFFIXES) or len(raw) > 255 or any(ord(c) < 32 for c in raw):
        raise ValidationFailed(
            f"file {raw!r} must be a YAML master batch record (name ending in .yaml)", field="file"
        )
    if (upload.size or 0) > MAX_YAML_BYTES:
        raise ValidationFailed(f"file {raw!r} is larger than 1 MB", field="file")
    upload.seek(0)
    content = upload.read(MAX_YAML_BYTES + 1)
    upload.seek(0)
    if isinstance(content, str):
        content = content.encode()
    if len(content) > MAX_YAML_BYTES:
        raise ValidationFailed(f"file {raw!r} is larger than 1 MB", field="file")
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(f"file {raw!r} is not UTF-8 text", field="file") from None
    if b"\x00" in content:
        raise ValidationFailed(f"file {raw!r} contains NUL characters", field="file")
    stem = get_valid_filename(raw.rsplit(".", 1)[0]) or "mbr"
    return CheckedFile(
        raw, f"{stem[: MAX_NAME_CHARS - 5]}.yaml", hashlib.sha256(content).hexdigest(), len(content)
    )


def check_controlled_file(upload: object, kind: str) -> CheckedFile:
    """A version's file: a PDF, or for a master batch record its YAML (the executable content
    that review and approval sign, through the file's SHA-256)."""
    if (
        kind == "master_batch_record"
        and isinstance(upload, File)
        and str(upload.name or "").lower().endswith(YAML_SUFFIXES)
    ):
        return check_yaml(upload)
    return check_pdf(upload)


def content_type(name: str) -> str:
    return "text/yaml; charset=utf-8" if name.lower().endswith(YAML_SUFFIXES) else "application/pdf"


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
