"""Helpers shared by the quality services: input checks naming the field, numbering,
transitions, people and dates. Private to quality.services."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import models

from vein2vein.core import audit, numbering
from vein2vein.core.errors import (
    Conflict,
    InterlockBlocked,
    NotFound,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.models import Site, User
from vein2vein.core.permissions import GMP_ROLES, active_roles, has_perm, require
from vein2vein.core.services import _validate
from vein2vein.core.services._validate import choice as choice
from vein2vein.core.services._validate import date as date
from vein2vein.core.services._validate import moment as moment
from vein2vein.core.time import in_zone, now

text = _validate.text
reason = _validate.reason
LONG = 10_000  # a free-text narrative (description, investigation)


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """audit.snapshot, with JSON fields as compact JSON text, so the audit trail shows them
    as written (the audit trail keeps scalars only)."""
    out = audit.snapshot(instance, [f for f in fields if not _is_json(instance, f)])
    for name in fields:
        if _is_json(instance, name):
            value = getattr(instance, name)
            out[name] = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return {f: out[f] for f in fields}


def _is_json(instance: models.Model, name: str) -> bool:
    return isinstance(instance._meta.get_field(name), models.JSONField)


def is_blank(value: object) -> bool:
    return value in ("", "[]", "{}", None)


def created(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A creation event's changes: the fields given a value (blank ones say nothing)."""
    return audit.created({k: v for k, v in values.items() if not is_blank(v)})


def today_at(site: Site) -> dt.date:
    return in_zone(now(), site.time_zone).date()


def future_date(value: object, field: str, site: Site) -> dt.date:
    """A due date: a real date, today or later at the site."""
    day = date(value, field)
    if day < today_at(site):
        raise ValidationFailed(f"{field} {day} is in the past", field=field)
    return day


def site(site_id: object, field: str = "site_id") -> Site:
    if isinstance(site_id, Site):
        return site_id
    if isinstance(site_id, bool) or not isinstance(site_id, int):
        raise ValidationFailed(f"{field} must be a site id", field=field)
    found = Site.objects.filter(pk=site_id, is_active=True).first()
    if found is None:
        raise NotFound(f"site {site_id} does not exist or is inactive", field=field)
    return found


def person(user_id: object, field: str, at: Site) -> User:
    """A user who holds a GMP role at `at`: only they may own quality work there."""
    if isinstance(user_id, User):
        user_id = user_id.pk
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise ValidationFailed(f"{field} must be a user id", field=field)
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound(f"user {user_id} does not exist or is inactive", field=field)
    if not active_roles(user, at) & GMP_ROLES:
        raise ValidationFailed(
            f"{user.username} holds no GMP role at {at.code}, so cannot own work there",
            field=field,
        )
    return user


M = TypeVar("M", bound=models.Model)


def locked(model: type[M], pk: int, field: str) -> M:
    obj = model._default_manager.select_for_update(no_key=True, of=("self",)).filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"{model._meta.verbose_name} {pk} does not exist", field=field)
    return obj


def fetch(model: type[M], pk: object, field: str) -> M:
    """Read (unlocked) for the checks that run before the transaction."""
    key = _validate.record_id(pk, field, strict=True)
    obj = model._default_manager.filter(pk=key).first()
    if obj is None:
        raise NotFound(f"{model._meta.verbose_name} {key} does not exist", field=field)
    return obj


def move(
    obj: models.Model, target: str, transitions: Mapping[str, frozenset[str]], what: str
) -> dict[str, dict[str, str]]:
    """Change obj.status along `transitions`; refuse any other move."""
    current: str = obj.status  # type: ignore[attr-defined]
    if target not in transitions.get(current, frozenset()):
        label = getattr(obj, "number", None) or str(obj)
        raise Conflict(f"{what} {label} is {current}: it cannot become {target}", field="status")
    obj.status = target  # type: ignore[attr-defined]
    return {"status": {"old": current, "new": target}}


def require_owner_or(actor: User, owner_id: int | None, perm: str, at: Site, own: str) -> None:
    """The owner may act (holding `own`, a GMP permission); anyone else needs `perm`."""
    if owner_id is not None and actor.pk == owner_id and has_perm(actor, own, at):
        return
    require(actor, perm, at)


@contextmanager
def recording_blocks(
    actor: User | None, action: str, record: models.Model | tuple[str, str]
) -> Iterator[None]:
    """Wrap the transaction: an InterlockBlocked raised inside is recorded after the rollback
    (DESIGN rule 6: a blocked attempt is itself recorded)."""
    ref = audit.record_ref(record)
    try:
        yield
    except InterlockBlocked as exc:
        audit.record_blocked_attempt(actor=actor, action=action, record=ref, reason=exc.message)
        raise


def next_number(prefix: str, at: Site) -> str:
    """'DEV-2026-0001': a yearly count per prefix across sites, the year as the site's clock
    reads it (core.numbering). Call inside the caller's transaction."""
    year, n = numbering.allocate(prefix, site=at, yearly=True)
    return f"{prefix}-{year}-{n:04d}"


def refuse_self(actor: User | None, other: User | None, message: str) -> None:
    """Four eyes outside the signature itself (e.g. the raiser of a deviation)."""
    if actor is not None and other is not None and actor.pk == other.pk:
        raise SignatureRefused(message, field=None)


__all__ = [
    "LONG",
    "Conflict",
    "InterlockBlocked",
    "NotFound",
    "PermissionRefused",
    "SignatureRefused",
    "ValidationFailed",
]
