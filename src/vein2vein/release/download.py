"""Serving a stored certificate of analysis: only while its SHA-256 still matches."""

from __future__ import annotations

from django.http import FileResponse

from vein2vein.core.errors import Conflict
from vein2vein.core.files import verified_copy

from .models import Certificate


def certificate_file(c: Certificate) -> FileResponse:
    copy = verified_copy(c.file.name, c.sha256)
    if copy is None:
        raise Conflict(
            f"the stored {c} is missing or no longer matches its SHA-256 ({c.sha256}); it is "
            "not served. Report it to QA.",
            field="batch_id",
        )
    response = FileResponse(
        copy,
        content_type="application/pdf",
        as_attachment=True,
        filename=f"CoA-{c.batch.number}-v{c.version}.pdf",
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-SHA256"] = c.sha256
    return response
