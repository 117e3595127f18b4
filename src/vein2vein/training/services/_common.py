"""Helpers shared by the training services."""

from __future__ import annotations

import os

from vein2vein.core.errors import NotFound
from vein2vein.core.models import Site, User
from vein2vein.core.services._validate import whole_number as whole_number
from vein2vein.core.time import add_months as add_months
from vein2vein.core.transactions import in_service_transaction as in_service_transaction

from ..choices import DEFAULT_DUE_DAYS, MAX_DUE_DAYS


def default_due_days() -> int:
    """Days to read a newly effective version: VEIN2VEIN_TRAINING_DUE_DAYS, else 14."""
    raw = os.environ.get("VEIN2VEIN_TRAINING_DUE_DAYS", "")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_DUE_DAYS else DEFAULT_DUE_DAYS


def site_or_404(site_id: object, field: str = "site_id") -> Site:
    site = Site.objects.filter(pk=site_id).first() if isinstance(site_id, int) else None
    if site is None:
        raise NotFound(f"site {site_id} does not exist", field=field)
    return site


def user_or_404(user_id: object, field: str = "user_id") -> User:
    user = User.objects.filter(pk=user_id).first() if isinstance(user_id, int) else None
    if user is None:
        raise NotFound(f"user {user_id} does not exist", field=field)
    return user
