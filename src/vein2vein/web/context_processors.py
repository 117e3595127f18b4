"""What every page shows: navigation, the user's name, roles and site, the site's local time."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from vein2vein.core import selectors
from vein2vein.core.time import format_in_zone, now

from .navigation import AREAS


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    base = {"nav_areas": AREAS, "session_idle_minutes": settings.SESSION_IDLE_MINUTES}
    if user is None or not user.is_authenticated:
        return base
    site = getattr(request, "site", None)
    roles = [a for a in selectors.active_assignments(user) if site is None or a.site_id == site.pk]
    return {
        **base,
        "current_site": site,
        "current_roles": sorted({a.get_role_display() for a in roles}),
        "my_sites": selectors.my_sites(user),
        "site_time": format_in_zone(now(), site.time_zone) if site else None,
    }
