"""The materials panel on the dashboard: lots awaiting my release, expiring soon, low stock."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vein2vein.core.choices import Role
from vein2vein.core.models import User
from vein2vein.core.permissions import GMP_ROLES, active_roles

from . import selectors

DAYS = 30


def panel(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    """None for people who neither handle materials nor oversee them."""
    user = request.user
    if not isinstance(user, User) or not active_roles(user) & (GMP_ROLES | {Role.INSPECTOR}):
        return None
    return (
        "materials/_panel.html",
        {
            "awaiting": list(selectors.awaiting_release(user)[:10]),
            "expiring": selectors.expiring(days=DAYS, limit=10),
            "low": selectors.low_stock()[:10],
            "days": DAYS,
        },
    )
