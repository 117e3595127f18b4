"""Django admin: read-only views of quality records; every change goes through the services."""

from __future__ import annotations

from django.contrib import admin

from vein2vein.core.admin import ReadOnlyAdmin, register_read_only

from .models import (
    Capa,
    CapaAction,
    CapaDeviation,
    ChangeApproval,
    ChangeControl,
    ChangeTask,
    Deviation,
    DeviationExtension,
    DeviationLink,
    EffectivenessCheck,
)


@admin.register(Deviation)
class DeviationAdmin(ReadOnlyAdmin):
    list_display = ("number", "title", "category", "classification", "status", "site", "due_date")
    list_filter = ("status", "classification", "category", "site")
    search_fields = ("number", "title", "description")


@admin.register(DeviationLink)
class DeviationLinkAdmin(ReadOnlyAdmin):
    list_display = ("deviation", "record_type", "record_id", "linked_at", "removed_at")


@admin.register(DeviationExtension)
class DeviationExtensionAdmin(ReadOnlyAdmin):
    list_display = ("deviation", "old_due_date", "new_due_date", "granted_by", "granted_at")


@admin.register(Capa)
class CapaAdmin(ReadOnlyAdmin):
    list_display = ("number", "title", "status", "site", "owner", "created_at")
    list_filter = ("status", "site")
    search_fields = ("number", "title")


@admin.register(CapaDeviation)
class CapaDeviationAdmin(ReadOnlyAdmin):
    list_display = ("capa", "deviation", "linked_by", "linked_at")


@admin.register(CapaAction)
class CapaActionAdmin(ReadOnlyAdmin):
    list_display = ("capa", "kind", "owner", "due_date", "status")
    list_filter = ("kind", "status")


@admin.register(EffectivenessCheck)
class EffectivenessCheckAdmin(ReadOnlyAdmin):
    list_display = ("capa", "due_date", "result", "checked_by", "checked_at")


@admin.register(ChangeControl)
class ChangeControlAdmin(ReadOnlyAdmin):
    list_display = ("number", "title", "status", "site", "requested_by", "requested_at")
    list_filter = ("status", "site")
    search_fields = ("number", "title", "what")


@admin.register(ChangeApproval)
class ChangeApprovalAdmin(ReadOnlyAdmin):
    list_display = ("change", "role", "approver", "approved_at")


@admin.register(ChangeTask)
class ChangeTaskAdmin(ReadOnlyAdmin):
    list_display = ("change", "owner", "due_date", "status")


register_read_only("quality")
