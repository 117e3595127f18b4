"""Read-only admin for documents: changes go through the pages and services."""

from __future__ import annotations

from django.contrib import admin

from vein2vein.core.admin import ReadOnlyAdmin, register_read_only

from .models import Document, DocumentVersion, PeriodicReview


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ("number", "title", "kind", "owner", "review_period_months", "obsoleted_at")
    list_filter = ("kind",)
    search_fields = ("number", "title")


@admin.register(DocumentVersion)
class DocumentVersionAdmin(ReadOnlyAdmin):
    list_display = ("document", "version", "status", "effective_date", "next_review_due")
    list_filter = ("status",)
    search_fields = ("document__number", "document__title")


@admin.register(PeriodicReview)
class PeriodicReviewAdmin(ReadOnlyAdmin):
    list_display = ("version", "reviewed_by", "reviewed_at", "next_review_due")


register_read_only("documents")
