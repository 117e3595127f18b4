"""Helpers shared by the qc services: input checks naming the field, lookups, numbering and
the recorded refusal. Private to qc.services."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models

from vein2vein.core import audit, numbering
from vein2vein.core.errors import Conflict, InterlockBlocked, NotFound, ValidationFailed
from vein2vein.core.models import Site, User
from vein2vein.core.services import _validate

text = _validate.text
reason = _validate.reason
choice = _validate.choice
number = _validate.number
date = _validate.date
moment = _validate.moment
record_id = _validate.record_id
LONG = 10_000

M = TypeVar("M", bound=models.Model)


def fetch(
    model: type[M],
    pk: object,
    field: str,
    *,
    lock: bool = False,
    related: tuple[str, ...] = (),
) -> M:
    key = record_id(pk, field, strict=True)
    qs = model._default_manager.all()
    if lock:
        qs = qs.select_for_update(no_key=True, of=("self",))
    if related:
        qs = qs.select_related(*related)
    obj = qs.filter(pk=key).first()
    if obj is None:
        raise NotFound(f"{model._meta.verbose_name} {key} does not exist", field=field)
    return obj


def next_number(prefix: str, site: Site) -> str:
    """'QCS-2026-0001': a yearly count per prefix; inside the caller's transaction."""
    allocated = numbering.allocate(prefix, site=site, yearly=True)
    year, n = allocated
    return f"{prefix}-{year}-{n:04d}"


def refuse(
    *,
    actor: User | None,
    action: str,
    record: models.Model,
    message: str,
    field: str | None = None,
    details: dict[str, Any] | None = None,
) -> InterlockBlocked:
    """Record a blocked attempt (its own transaction) and return the error to raise."""
    audit.record_blocked_attempt(
        actor=actor,
        action=action,
        record=record,
        reason=message,
        details={k: {"old": None, "new": v} for k, v in (details or {}).items()},
    )
    return InterlockBlocked(message, field=field)


def created(instance: models.Model, fields: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return audit.created(
        {k: v for k, v in audit.snapshot(instance, fields).items() if v not in (None, "")}
    )


__all__ = ["Conflict", "InterlockBlocked", "NotFound", "ValidationFailed"]
