"""The batch record panel on the dashboard: batches running or on hold at my sites (with their
progress), entries waiting for me to verify (never my own), completed batches waiting for my
QA review."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vein2vein.core import selectors as core_selectors
from vein2vein.core.models import User
from vein2vein.core.permissions import active_roles, has_perm

from . import selectors
from .choices import BatchStatus, EntryStatus
from .models import StepEntry
from .permissions import MfgPerm

SHOWN = 10


def _site_ids(user: User, perm: str) -> list[int]:
    return [s.pk for s in core_selectors.my_sites(user) if has_perm(user, perm, s)]


def panel(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    """None for people with nothing of the batch record to see or do."""
    user = request.user
    if not isinstance(user, User) or not active_roles(user):
        return None
    mine = selectors.batches_for(user)
    batches = list(mine.filter(status__in=[BatchStatus.IN_PROGRESS, BatchStatus.ON_HOLD])[:SHOWN])
    progress = selectors.progress_of(batches)
    running = [(b, *progress[b.pk]) for b in batches]
    verify_sites = _site_ids(user, MfgPerm.STEP_VERIFY)
    to_verify = (
        list(
            StepEntry.objects.filter(
                status=EntryStatus.AWAITING_VERIFICATION,
                batch__site_id__in=verify_sites,
                batch__status__in=[BatchStatus.IN_PROGRESS, BatchStatus.ON_HOLD],
            )
            .exclude(performed_by=user)
            .select_related("batch", "performed_by")
            .order_by("recorded_at")[:SHOWN]
        )
        if verify_sites
        else []
    )
    review_sites = _site_ids(user, MfgPerm.BATCH_REVIEW)
    to_review = (
        list(
            mine.filter(status=BatchStatus.COMPLETED, site_id__in=review_sites).order_by(
                "completed_at"
            )[:SHOWN]
        )
        if review_sites
        else []
    )
    if not running and not to_verify and not to_review:
        return None
    return (
        "manufacturing/_panel.html",
        {"running": running, "to_verify": to_verify, "to_review": to_review},
    )
