"""The documents panel on the dashboard: what waits for this user's signature, their drafts,
and (for QA) overdue periodic reviews. None when there is nothing for them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vein2vein.core.models import User
from vein2vein.core.permissions import has_perm

from . import selectors
from .permissions import DocPerm


def panel(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    user: User = request.user  # type: ignore[assignment]
    if not has_perm(user, DocPerm.AUTHOR):
        return None
    to_review, to_approve = selectors.review_queue(user)
    context = {
        "to_review": to_review,
        "to_approve": to_approve,
        "drafts": list(selectors.my_drafts(user)),
        "overdue": selectors.overdue_reviews().count()
        if has_perm(user, DocPerm.PERIODIC_REVIEW)
        else 0,
    }
    if not any(context.values()):
        return None
    return "documents/_panel.html", context
