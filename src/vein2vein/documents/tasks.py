"""Celery tasks: thin wrappers around the document services."""

from __future__ import annotations

from celery import shared_task

from .services import activate_due_versions


@shared_task(name="documents.activate_due_versions")
def activate_due() -> list[str]:
    """Daily: make effective the approved versions whose effective date has come."""
    return [str(v) for v in activate_due_versions()]
