"""Training records in the read-only admin: the services are the only writers."""

from __future__ import annotations

from django.contrib import admin

from vein2vein.core.admin import ReadOnlyAdmin, register_read_only

from .models import Curriculum, CurriculumItem, Qualification, QualificationType, TrainingAssignment


@admin.register(QualificationType)
class QualificationTypeAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "kind", "subject", "validity_months", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name", "subject")


@admin.register(Curriculum)
class CurriculumAdmin(ReadOnlyAdmin):
    list_display = ("name", "role", "site", "created_by", "created_at")
    list_filter = ("role",)


@admin.register(CurriculumItem)
class CurriculumItemAdmin(ReadOnlyAdmin):
    list_display = ("curriculum", "document", "qualification_type", "trainer_led", "removed_at")
    list_filter = ("trainer_led",)


@admin.register(TrainingAssignment)
class TrainingAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("trainee", "document_version", "status", "due_at", "completed_at", "trainer")
    list_filter = ("status", "trainer_led")
    search_fields = (
        "trainee__username",
        "trainee__full_name",
        "document_version__document__number",
    )


@admin.register(Qualification)
class QualificationAdmin(ReadOnlyAdmin):
    list_display = (
        "user",
        "qualification_type",
        "status",
        "granted_at",
        "expires_at",
        "granted_by",
    )
    list_filter = ("status", "qualification_type")
    search_fields = ("user__username", "user__full_name")


register_read_only("training")
