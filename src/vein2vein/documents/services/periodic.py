"""Periodic review: QA confirms an effective version is still fit for use, by e-signature,
and its next review date moves on by the document's review period."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.services import apply_signature, check_password_for_signing
from vein2vein.core.time import now

from ..choices import VersionStatus
from ..models import PeriodicReview
from ..permissions import DocPerm
from . import _common as c
from .versions import _require_intact_file


def record_periodic_review(
    *,
    actor: User,
    version_id: int,
    password: str,
    reason: str = "",
    request: HttpRequest | None = None,
) -> PeriodicReview:
    """Sign the periodic review of the effective version (meaning 'reviewed'); the next review
    falls due one review period from today."""
    require(actor, DocPerm.PERIODIC_REVIEW)
    version = c.load_version(version_id)
    c.require_status(version, VersionStatus.EFFECTIVE, doing="periodically reviewed")
    comment = c.text(reason, "reason", max_length=2000, required=False)
    _require_intact_file(actor, version, "periodically reviewed")
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        version = c.lock_version(version.pk)
        c.require_status(version, VersionStatus.EFFECTIVE, doing="periodically reviewed")
        due = c.add_months(c.today(), version.document.review_period_months)
        review = PeriodicReview.objects.create(
            version=version,
            reviewed_by=actor,
            reviewed_at=now(),
            comment=comment,
            previous_due=version.next_review_due,
            next_review_due=due,
        )
        audit.append_event(
            actor=actor,
            action="documents.periodic_review.created",
            record=review,
            changes=audit.created(audit.snapshot(review, PeriodicReview.RECORD_FIELDS)),
            reason=comment,
        )
        changes = {"next_review_due": {"old": version.next_review_due, "new": due}}
        version.next_review_due = due
        version.save(update_fields=["next_review_due"])
        audit.append_event(
            actor=actor,
            action="documents.version.periodically_reviewed",
            record=version,
            changes=changes,
            reason=comment,
        )
        apply_signature(
            proof=proof,
            actor=actor,
            record=review,
            meaning=SignatureMeaning.REVIEWED,
            reason=comment,
        )
    return review
