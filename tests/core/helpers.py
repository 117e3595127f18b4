"""Assertions shared by the core tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import models

from vein2vein.core.audit import verify_chain
from vein2vein.core.models import ApiToken, AuditEvent, RoleAssignment, Signature, Site, User

GMP_TABLES = (Site, User, RoleAssignment, AuditEvent, Signature, ApiToken)
# The people `vein2vein demo` makes, one a role (core/demo.py USERS), as the tests expect them.
DEMO_USERNAMES = (
    "admin",
    "operator",
    "verifier",
    "supervisor",
    "qc",
    "qa",
    "qa_approver",
    "logistics",
    "clinic",
    "apheresis",
    "inspector",
)


def _counts(extra: tuple[type[models.Model], ...]) -> dict[str, int]:
    return {m.__name__: m._default_manager.count() for m in (*GMP_TABLES, *extra)}


def _rows(extra: tuple[type[models.Model], ...]) -> dict[str, list[tuple[object, ...]]]:
    return {m.__name__: list(m._default_manager.order_by("pk").values_list()) for m in extra}


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
def nothing_written(*extra: type[models.Model]) -> Iterator[None]:
    """The block must leave every core table, and every row of the `extra` models, exactly
    as it was, and the audit chain verified. Domain apps pass their own models."""
    counts, state, rows = _counts(extra), _state(), _rows(extra)
    yield
    assert _counts(extra) == counts, "a refused action wrote rows"
    assert _state() == state, "a refused action changed rows"
    assert _rows(extra) == rows, "a refused action changed rows"
    assert verify_chain().ok
