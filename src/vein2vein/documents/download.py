"""Serving a version's PDF: read permission, then the SHA-256 re-checked on the way out."""

from __future__ import annotations

from django.http import FileResponse

from vein2vein.core.errors import Conflict, NotFound, PermissionRefused
from vein2vein.core.files import verified_copy
from vein2vein.core.models import User

from .models import DocumentVersion
from .permissions import DocPerm, can_read_version
from .services import record_file_integrity_failure
from .version_files import content_type


def pdf_response(user: User, version_id: int) -> FileResponse:
    """The PDF, inline, exactly as hashed at upload; a refusal (403/404/409) otherwise. A
    stored file that no longer matches is never sent, and the failed read is recorded."""
    version = DocumentVersion.objects.select_related("document").filter(pk=version_id).first()
    if version is None:
        raise NotFound(f"document version {version_id} does not exist", field="version_id")
    if not can_read_version(user, version):
        raise PermissionRefused(
            f"reading {version} ({version.get_status_display().lower()}) needs "
            f"{DocPerm.VIEW_UNRELEASED if version.status != 'effective' else DocPerm.VIEW}",
            field="version_id",
        )
    if not version.file or not version.file_sha256:
        raise NotFound(f"{version} has no file", field="file")
    copy = verified_copy(version.file.name, version.file_sha256)
    if copy is None:
        record_file_integrity_failure(actor=user, version=version)
        raise Conflict(
            f"the stored file of {version} is missing or no longer matches its SHA-256 "
            f"({version.file_sha256}); it is not served. Report it to QA.",
            field="file",
        )
    response = FileResponse(
        copy,
        content_type=content_type(version.file_name),
        as_attachment=False,
        filename=version.file_name,
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-SHA256"] = version.file_sha256
    return response
