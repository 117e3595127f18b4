"""The certificate of analysis of a released batch, its PDF stored with its SHA-256.

Regenerating gives back the stored PDF while what it states is unchanged (checked against the
file's SHA-256); changed content (a new release, a retest) makes a new version. A stored file
no longer matching its hash is refused, never silently replaced.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from vein2vein.core import audit
from vein2vein.core.errors import Conflict, NotFound
from vein2vein.core.files import delete_orphan, stored_sha256
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.signing import manifestation
from vein2vein.core.time import format_in_zone, now
from vein2vein.manufacturing.models import Batch
from vein2vein.standards.audit_chain import content_hash

from .. import pdf, selectors
from ..choices import Decision
from ..models import Certificate, Disposition
from ..permissions import RelPerm
from .dispositions import _batch


def certificate_content(b: Batch, d: Disposition) -> dict[str, Any]:
    """What the certificate states (without its version)."""
    sig = selectors.release_signature(d)
    if sig is None:
        raise Conflict(f"the release of {b.number} carries no release signature", field="batch_id")
    m = manifestation(sig, d)
    testing = selectors.release_testing_of(b.pk)
    product = b.master_record.product
    zone = b.site.time_zone
    return {
        "product": product.name,
        "product_code": product.code,
        "batch": b.number,
        "coi": b.coi or f"donor lot {b.donor_lot}",
        "site": f"{b.site.name} ({b.site.code})",
        "specification": getattr(testing, "specification", None) or "",
        "record_sha256": d.record_sha256,
        "tests": [
            {
                "test": line.test,
                "method_version": line.method_version,
                "criterion": line.criterion,
                "result": line.result,
                "in_spec": line.status == "in_spec",
                "reviewer": line.reviewer,
                "reviewed_at": format_in_zone(line.reviewed_at, zone) if line.reviewed_at else "",
            }
            for line in (getattr(testing, "lines", ()) or ())
        ],
        "exceptional": d.exceptional,
        "physician_name": d.physician_name,
        "physician_requested_at": (
            format_in_zone(d.physician_requested_at, zone) if d.physician_requested_at else ""
        ),
        "physician_reference": d.physician_reference,
        "reason": d.reason,
        "disposition": d.pk,
        "signature": {
            "printed_name": m.printed_name,
            "username": m.username,
            "meaning": m.meaning,
            "signed_at": m.signed_at,
            "valid": m.valid,
        },
    }


def generate_certificate(*, actor: User, batch_id: int) -> Certificate:
    """The certificate of analysis of a released batch: the stored one while its content is
    unchanged, else a new version (PDF stored, SHA-256 recorded, audited)."""
    b = _batch(batch_id)
    require(actor, RelPerm.COA, b.site)
    d = selectors.current_disposition(b.pk)
    if d is None or d.decision != Decision.RELEASE:
        raise Conflict(
            f"batch {b.number} is not released: a certificate of analysis is issued for a "
            "released batch only",
            field="batch_id",
        )
    content = certificate_content(b, d)
    digest = content_hash(content)
    latest = Certificate.objects.filter(batch=b).order_by("-version").first()
    if latest is not None and latest.content_sha256 == digest:
        if stored_sha256(latest.file.name) != latest.sha256:
            raise Conflict(
                f"the stored certificate {latest} no longer matches its SHA-256: report it "
                "to QA; it is not replaced silently",
                field="batch_id",
            )
        return latest
    version = (latest.version if latest is not None else 0) + 1
    data = pdf.certificate_pdf({**content, "version": version})
    sha = hashlib.sha256(data).hexdigest()
    name = ""
    try:
        with transaction.atomic():
            Batch.objects.select_for_update(no_key=True, of=("self",)).get(pk=b.pk)
            if Certificate.objects.filter(batch=b, version=version).exists():
                raise Conflict(
                    f"a certificate of {b.number} was issued meanwhile: try again",
                    field="batch_id",
                )
            cert = Certificate(
                batch=b,
                version=version,
                disposition=d,
                content_sha256=digest,
                sha256=sha,
                size=len(data),
                generated_by=actor,
                generated_at=now(),
            )
            cert.file.save(f"CoA-{b.number}-v{version}.pdf", ContentFile(data), save=False)
            name = cert.file.name or ""
            cert.save(force_insert=True)
            audit.append_event(
                actor=actor,
                action="release.certificate.issued",
                record=cert,
                changes=audit.created(audit.snapshot(cert, Certificate.RECORD_FIELDS)),
            )
    except BaseException:
        if name:
            delete_orphan(name)
        raise
    return cert


def certificate(batch_id: int, version: int | None = None) -> Certificate:
    qs = Certificate.objects.filter(batch_id=batch_id).select_related("batch")
    found = (qs.filter(version=version) if version else qs.order_by("-version")).first()
    if found is None:
        raise NotFound(f"batch {batch_id} has no certificate of analysis", field="batch_id")
    return found
