"""The "my training" panel on the dashboard: what I must read, what lapses, what I sign off."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vein2vein.core.models import User
from vein2vein.core.time import now

from . import selectors


def panel(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    """None for people training does not concern (no curriculum, nothing open or held)."""
    user = request.user
    if not user.is_authenticated:
        return None
    assert isinstance(user, User)
    at = now()
    requirements = selectors.curriculum_requirements(user)
    open_items = selectors.open_assignments(user)
    to_sign_off = selectors.awaiting_sign_off(user).count()
    expiring = selectors.expiring(user, within_days=30, at=at)
    if not (requirements or open_items or to_sign_off or expiring):
        return None
    return (
        "training/_panel.html",
        {
            "at": at,
            "status": selectors.is_qualified(user, requirements, at=None),
            "open_items": [(a, a.is_overdue(at)) for a in open_items[:8]],
            "expiring": expiring,
            "to_sign_off": to_sign_off,
        },
    )
