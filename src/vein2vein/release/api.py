"""release API at /api/v1/release; thin: parse, call a service or selector, serialize.

A caller reads the batches of the sites where they hold a role; a batch elsewhere is "not
found". Readiness is a GET; the disposition a POST with the signer's password; the
certificate of analysis is issued (or the stored one returned) by a POST and downloaded by a
GET that serves the stored PDF only while its SHA-256 still matches.
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest
from ninja import Query, Router, Status

from vein2vein.core.actors import api_user
from vein2vein.core.api import ERRORS
from vein2vein.core.errors import NotFound
from vein2vein.core.models import User
from vein2vein.core.pagination import Page, page_of
from vein2vein.core.permissions import require
from vein2vein.manufacturing.selectors import batches_for
from vein2vein.web.lists import api_rows

from . import selectors, services
from .download import certificate_file
from .filters import AwaitingFilterSet
from .models import Certificate, Disposition
from .permissions import RelPerm
from .schemas import (
    AwaitingFilter,
    AwaitingOut,
    CertificateOut,
    DispositionIn,
    DispositionOut,
    ReadinessOut,
)
from .services.certificates import certificate

router = Router(tags=["release"])

MAX_ID = 2**63 - 1


def _batch_id(user: User, batch_id: int) -> int:
    require(user, RelPerm.VIEW)
    found = (
        batches_for(user).filter(pk=batch_id).values_list("pk", flat=True).first()
        if 1 <= batch_id <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound(
            f"batch {batch_id} does not exist or is not at one of your sites", field="batch_id"
        )
    return int(found)


def _disposition_out(d: Disposition) -> DispositionOut:
    s = selectors.shippable(d.batch_id)
    return DispositionOut(
        id=d.pk,
        batch_id=d.batch_id,
        decision=d.decision,
        exceptional=d.exceptional,
        follows_id=d.follows_id,
        reason=d.reason,
        physician_name=d.physician_name,
        physician_requested_at=d.physician_requested_at,
        physician_reference=d.physician_reference,
        decided_by=d.decided_by.printed_name,
        decided_at=d.decided_at,
        shippable=s.shippable,
        shippable_reason=s.reason,
    )


def _certificate_out(c: Certificate) -> CertificateOut:
    return CertificateOut(
        id=c.pk,
        batch_id=c.batch_id,
        version=c.version,
        sha256=c.sha256,
        size=c.size,
        generated_by=c.generated_by.printed_name,
        generated_at=c.generated_at,
        download=f"/api/v1/release/batches/{c.batch_id}/certificate.pdf?version={c.version}",
    )


@router.get("/batches", response={200: list[AwaitingOut], **ERRORS})
def awaiting(request: HttpRequest, filters: Query[AwaitingFilter]) -> list[AwaitingOut]:
    """Batches reviewed by QA at your sites with no final disposition (none, or on hold)."""
    user = api_user(request)
    require(user, RelPerm.VIEW)
    qs = api_rows(AwaitingFilterSet, filters, selectors.awaiting_disposition(user), request)
    rows = page_of(qs, filters)
    latest = selectors.latest_decisions([b.pk for b in rows])
    return [
        AwaitingOut(
            id=b.pk,
            number=b.number,
            coi=b.coi,
            site=b.site.code,
            product=b.master_record.product.code,
            reviewed_at=b.reviewed_at,
            decision=latest[b.pk].decision if b.pk in latest else "",
        )
        for b in rows
    ]


@router.get("/batches/{int:batch_id}/readiness", response={200: ReadinessOut, **ERRORS})
def readiness(request: HttpRequest, batch_id: int) -> ReadinessOut:
    """The release checklist: each item met, not met (with what is missing and a link), or
    not applicable yet (labeling, storage)."""
    pk = _batch_id(api_user(request), batch_id)
    return ReadinessOut(**selectors.readiness(pk).as_json())


@router.get("/batches/{int:batch_id}/dispositions", response={200: list[DispositionOut], **ERRORS})
def dispositions(request: HttpRequest, batch_id: int, page: Query[Page]) -> list[DispositionOut]:
    """The batch's dispositions, oldest first (a hold, then its release or reject)."""
    pk = _batch_id(api_user(request), batch_id)
    return [_disposition_out(d) for d in page_of(selectors.dispositions_of(pk), page)]


@router.post("/batches/{int:batch_id}/disposition", response={201: DispositionOut, **ERRORS})
def dispose(request: HttpRequest, batch_id: int, payload: DispositionIn) -> Status[DispositionOut]:
    """A QA approver's signed decision: release (refused unless ready; `exceptional` with the
    physician's request for an out-of-specification product), reject (final) or hold."""
    user = api_user(request)
    pk = _batch_id(user, batch_id)
    d = services.dispose(actor=user, batch_id=pk, request=request, **payload.dict())
    return Status(201, _disposition_out(d))


@router.post("/batches/{int:batch_id}/certificate", response={200: CertificateOut, **ERRORS})
def issue_certificate(request: HttpRequest, batch_id: int) -> CertificateOut:
    """The certificate of analysis of a released batch: the stored one while what it states is
    unchanged, else a new version."""
    user = api_user(request)
    pk = _batch_id(user, batch_id)
    return _certificate_out(services.generate_certificate(actor=user, batch_id=pk))


@router.get("/batches/{int:batch_id}/certificate.pdf", response={200: None, **ERRORS})
def download_certificate(
    request: HttpRequest, batch_id: int, version: int | None = None
) -> FileResponse:
    """The stored PDF (the latest version, or `version`), its SHA-256 in X-Content-SHA256."""
    pk = _batch_id(api_user(request), batch_id)
    return certificate_file(certificate(pk, version))
