"""The quality panel on the dashboard: "my open actions" for this user, or None."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vein2vein.core.models import User
from vein2vein.core.permissions import GMP_ROLES, active_roles

from . import selectors


def panel(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    """Deviations I raised or investigate, CAPA actions and change tasks I own, approvals and
    effectiveness checks waiting for my role. None for people who do no GMP work."""
    user = request.user
    if not isinstance(user, User) or not active_roles(user) & GMP_ROLES:
        return None
    work = selectors.my_open_actions(user)
    return "quality/_panel.html", {"work": work, "overdue": selectors.overdue().count}
