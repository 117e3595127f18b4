"""Personal data in the audit trail, shown only to those allowed to see it.

The audit trail keeps every old and new value (Part 11), including a patient's name and date
of birth, but everyone with a role reads the audit trail. An app that records personal data
registers which fields of which record type are personal and who may see them; the audit
pages and the API then show "(personal data hidden)" to everybody else. The stored event,
and so its hash, is untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import AuditEvent, User

HIDDEN = "(personal data hidden)"

MaySee = Callable[["User", str], bool]
_RULES: dict[str, tuple[frozenset[str], MaySee]] = {}


def register_personal_fields(record_type: str, fields: Iterable[str], may_see: MaySee) -> None:
    """`may_see(user, record_id)` says whether `user` may read those fields of that record."""
    _RULES[record_type] = (frozenset(fields), may_see)


def visible_changes(user: User, event: AuditEvent) -> Mapping[str, Any]:
    """The event's changes as `user` may read them."""
    rule = _RULES.get(event.record_type)
    changes: Mapping[str, Any] = event.changes or {}
    if rule is None or not rule[0] & set(changes):
        return changes
    fields, may_see = rule
    if may_see(user, event.record_id):
        return changes
    return {
        name: (
            {"old": _hide(v.get("old")), "new": _hide(v.get("new"))}
            if isinstance(v, Mapping)
            else _hide(v)
        )
        if name in fields
        else v
        for name, v in changes.items()
    }


def _hide(value: Any) -> Any:
    return value if value in (None, "") else HIDDEN
