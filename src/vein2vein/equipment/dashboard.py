"""The equipment panel on the dashboard: a template and its context for this user, or None."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def panel(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    return None
