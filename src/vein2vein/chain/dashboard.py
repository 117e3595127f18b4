"""The chain panel on the dashboard (placeholder)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def panel(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    return None
