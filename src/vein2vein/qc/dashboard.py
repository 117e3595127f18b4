"""The QC panel on the dashboard: the number of items on the user's worklist; None for people
who do not enter or review results."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vein2vein.core.models import User

from . import selectors


def panel(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    user = request.user
    if not isinstance(user, User) or not selectors.may_enter(user):
        return None
    items = selectors.worklist(user)
    return "qc/_panel.html", {"count": len(items), "first_due": items[0].due if items else None}
