"""The chain panel on the dashboard: bags awaiting receipt at my site (with the hours left on
their stability clock), clocks running on my sites' orders, and my clinic's orders that still
need a collection slot."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vein2vein.core.choices import Role
from vein2vein.core.models import User
from vein2vein.core.permissions import active_assignments_where, active_roles

from . import selectors
from .choices import OrderStatus
from .views import ClockView

SHOWN = 10


def _clinical_site_ids(user: User) -> list[int]:
    return [
        a.site_id for a in active_assignments_where(user, lambda a: a.role == Role.CLINICAL_SITE)
    ]


def panel(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    """None for people with no role (nothing of the chain is theirs to see)."""
    user = request.user
    if not isinstance(user, User) or not active_roles(user):
        return None
    awaiting = [(o, ClockView.of(o)) for o in selectors.awaiting_receipt(user)[:SHOWN]]
    awaiting_ids = {o.pk for o, _ in awaiting}
    clocks = [
        (o, ClockView.of(o))
        for o in selectors.clocks_running(user)[: SHOWN + len(awaiting_ids)]
        if o.pk not in awaiting_ids
    ][:SHOWN]
    clinics = _clinical_site_ids(user)
    need_slot = (
        list(
            selectors.orders_for(user)
            .filter(status=OrderStatus.ORDERED, ordering_site_id__in=clinics)
            .order_by("requested_collection_date")[:SHOWN]
        )
        if clinics
        else []
    )
    return (
        "chain/_panel.html",
        {"awaiting": awaiting, "clocks": clocks, "need_slot": need_slot},
    )
