"""The training area's tabs: each page shows the tabs this user may open."""

from __future__ import annotations

from typing import Any

from django import template

from vein2vein.core.permissions import has_perm

from ..permissions import TrainingPerm

register = template.Library()


@register.inclusion_tag("training/_tabs.html", takes_context=True)
def training_tabs(context: dict[str, Any], current: str = "") -> dict[str, Any]:
    user = context["request"].user
    return {
        "current": current,
        "oversee": has_perm(user, TrainingPerm.OVERSEE),
        "qualify": has_perm(user, TrainingPerm.QUALIFY),
    }
