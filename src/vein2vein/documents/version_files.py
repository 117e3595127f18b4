"""The file of a document version: a PDF, or for a master batch record its YAML (the
executable content that review and approval sign, through the file's SHA-256), and the
content type it is served with. Storage and hashing are `core.files`."""

from __future__ import annotations

import hashlib
import os

from django.core.files import File
from django.utils.text import get_valid_filename

from vein2vein.core.errors import ValidationFailed
from vein2vein.core.files import MAX_NAME_CHARS, CheckedFile, check_pdf

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
