"""The equipment panel on the dashboard: units due within 14 days or overdue, and units out of
service, at the user's sites; None for people with no role."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vein2vein.core import selectors as core_selectors
from vein2vein.core.models import User
from vein2vein.core.permissions import GMP_ROLES, active_roles

from . import selectors


def panel(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    user = request.user
    if not isinstance(user, User) or not active_roles(user) & (GMP_ROLES):
        return None
    sites = {s.pk for s in core_selectors.my_sites(user)}
    due = [r for r in selectors.due_plans() if r.plan.equipment.site_id in sites][:20]
    out = [u for u in selectors.out_of_service() if u.site_id in sites][:20]
    return "equipment/_panel.html", {"due": due, "out": out}
