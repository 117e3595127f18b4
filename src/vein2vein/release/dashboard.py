"""The release panel on the dashboard: batches awaiting disposition at the sites where I may
dispose of them, and notices of exceptional release for my sites."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vein2vein.core.models import User
from vein2vein.core.permissions import active_roles, has_perm

from . import selectors
from .permissions import RelPerm

SHOWN = 10


def panel(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    """None for people with nothing to dispose of and no notice to read."""
    user = request.user
    if not isinstance(user, User) or not active_roles(user):
        return None
    awaiting = (
        list(selectors.awaiting_disposition(user)[:SHOWN])
        if has_perm(user, RelPerm.DISPOSE)
        else []
    )
    notices = list(selectors.notices_for(user)[:SHOWN])  # no query without a clinical role
    if not awaiting and not notices:
        return None
    return "release/_panel.html", {"awaiting": awaiting, "notices": notices}
