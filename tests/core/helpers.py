"""Assertions shared by the core tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from vein2vein.core.audit import verify_chain
from vein2vein.core.models import ApiToken, AuditEvent, RoleAssignment, Signature, Site, User

GMP_TABLES = (Site, User, RoleAssignment, AuditEvent, Signature, ApiToken)


def _counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in GMP_TABLES}


def _state() -> dict[str, list[tuple[object, ...]]]:
    return {
        "sites": list(Site.objects.order_by("pk").values_list(*Site.RECORD_FIELDS)),
        "roles": list(RoleAssignment.objects.order_by("pk").values_list("revoked_at")),
        "tokens": list(ApiToken.objects.order_by("pk").values_list("revoked_at")),
        "users": list(
            User.objects.order_by("pk").values_list("is_active", "full_name", "password")
        ),
    }


@contextmanager
def nothing_written() -> Iterator[None]:
    """The block must leave every core table exactly as it was, and the chain verified."""
    counts, state = _counts(), _state()
    yield
    assert _counts() == counts, "a refused action wrote rows"
    assert _state() == state, "a refused action changed rows"
    assert verify_chain().ok
