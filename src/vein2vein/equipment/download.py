"""Serving a calibration certificate: read permission, then the SHA-256 re-checked on the way
out (a stored file that no longer matches is never sent)."""

from __future__ import annotations

from django.http import FileResponse

from vein2vein.core.errors import Conflict, NotFound
from vein2vein.core.files import verified_copy
from vein2vein.core.models import User
from vein2vein.core.permissions import require

from .models import ServiceRecord
from .permissions import EqPerm


def certificate_response(user: User, record: ServiceRecord) -> FileResponse:
    require(user, EqPerm.VIEW)
    if not record.certificate or not record.certificate_sha256:
        raise NotFound(f"record #{record.pk} has no certificate", field="certificate")
    copy = verified_copy(record.certificate.name, record.certificate_sha256)
    if copy is None:
        raise Conflict(
            f"the stored certificate of record #{record.pk} is missing or no longer matches its "
            f"SHA-256 ({record.certificate_sha256}); it is not served. Report it to QA.",
            field="certificate",
        )
    response = FileResponse(
        copy, content_type="application/pdf", as_attachment=False, filename=record.certificate_name
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-SHA256"] = record.certificate_sha256
    return response
