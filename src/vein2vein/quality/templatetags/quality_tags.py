"""Small display helpers for the quality pages."""

from __future__ import annotations

from django import template

register = template.Library()

_TONE = {
    "open": "info",
    "under_investigation": "warn",
    "pending_qa_approval": "warn",
    "in_progress": "warn",
    "draft": "muted",
    "submitted": "warn",
    "approved": "info",
    "implementing": "warn",
    "closed": "ok",
    "done": "ok",
    "pass": "ok",
    "cancelled": "muted",
    "rejected": "bad",
    "fail": "bad",
    "critical": "bad",
    "major": "warn",
    "minor": "info",
}


@register.filter
def tone(value: object) -> str:
    """The badge class for a status, classification or result."""
    return _TONE.get(str(value), "")


@register.filter
def yes_no(value: object) -> str:
    if value is None:
        return "Not assessed yet"
    return "Yes" if value else "No"
