"""Celery tasks: thin wrappers around the chain services."""

from __future__ import annotations

from celery import shared_task

from .services import check_stability_clocks


@shared_task(name="chain.check_stability_clocks")
def check_clocks() -> list[str]:
    """Every few minutes (beat): a deviation for fresh material that ran out of time."""
    return check_stability_clocks()
