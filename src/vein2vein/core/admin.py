"""Django admin: read-only for every GMP record; changes go through the pages and services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .admin_site import ADMIN_VIEW_ROLES, ReadOnlyAdminSite
from .models import ApiToken, AuditEvent, RoleAssignment, Signature, Site, User

__all__ = ["ADMIN_VIEW_ROLES", "ReadOnlyAdmin", "ReadOnlyAdminSite", "register_read_only"]


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """No add, change or delete here: the services are the only writers."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.site.has_permission(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return admin.site.has_permission(request)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}


@admin.register(Site)
class SiteAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "kind", "time_zone", "fin", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name", "fin")


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
    list_display = ("username", "full_name", "email", "is_active", "last_login")
    search_fields = ("username", "full_name", "email")
    exclude = ("password",)


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("user", "site", "role", "granted_at", "revoked_at")
    list_filter = ("role", "site")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "occurred_at", "actor_username", "action", "record_type", "record_id")
    list_filter = ("action", "record_type")
    search_fields = ("actor_username", "record_id", "reason")


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ("signed_at", "signer_name", "meaning", "record_type", "record_id")
    list_filter = ("meaning",)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    exclude = ("key_hash",)


def register_read_only(app_label: str) -> None:
    """Every table of an app in the read-only admin (an inspector can browse the raw rows)."""
    from django.apps import apps

    for model in apps.get_app_config(app_label).get_models():
        if not admin.site.is_registered(model):
            admin.site.register(model, ReadOnlyAdmin)


register_read_only("core")
