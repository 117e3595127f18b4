"""The admin site class, in a module of its own: `default_site` names it, and defining it in
core/admin.py made Django build the site while that module's registrations were running, so
they landed on a different instance and core's tables were missing from the admin."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .choices import Role
from .permissions import active_roles

ADMIN_VIEW_ROLES = {Role.ADMIN, Role.INSPECTOR, Role.QA_REVIEWER, Role.QA_APPROVER}


class ReadOnlyAdminSite(admin.AdminSite):
    site_header = "vein2vein (read-only records)"
    site_title = "vein2vein"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and active_roles(user) & ADMIN_VIEW_ROLES)  # type: ignore[arg-type]
