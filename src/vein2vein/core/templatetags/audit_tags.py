"""`{{ event|visible_changes:request.user }}`: an audit event's changes with personal data
hidden from those who may not see it (core.privacy)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

from vein2vein.core.models import AuditEvent, User
from vein2vein.core.privacy import visible_changes as _visible

register = template.Library()


@register.filter
def visible_changes(event: AuditEvent, user: User) -> Mapping[str, Any]:
    return _visible(user, event).items()  # type: ignore[return-value]
