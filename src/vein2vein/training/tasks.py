"""Celery tasks: thin wrappers around the training services."""

from __future__ import annotations

from celery import shared_task

from .services import sync_assignments


@shared_task(name="training.sync_assignments")  # type: ignore[untyped-decorator]
def sync_training_assignments() -> dict[str, int]:
    """Assign curriculum documents to new role holders (run after role grants, or nightly)."""
    return {"created": len(sync_assignments(actor=None))}
