"""Helpers shared by the equipment services: input checks naming the field, lookups, dates
in the unit's zone. Private to equipment.services."""

from __future__ import annotations

import datetime as dt
import re
from typing import TypeVar

from django.db import models

from vein2vein.core.errors import Conflict, NotFound, ValidationFailed
from vein2vein.core.models import Site
from vein2vein.core.services import _validate
from vein2vein.core.services._validate import choice as choice
from vein2vein.core.services._validate import moment as moment
from vein2vein.core.time import in_zone, now
from vein2vein.core.transactions import in_service_transaction as in_service_transaction

from ..models import Equipment

text = _validate.text
reason = _validate.reason
only_editable = _validate.only_editable
whole_number = _validate.whole_number
LONG = 10_000
_TAG_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,29}$")


def asset_tag(value: object, field: str = "equipment_id") -> str:
    """An asset tag: 2-30 capitals, digits and '-', e.g. BSC-01 (case folded)."""
    tag = text(value, field, max_length=30).upper()
    if not _TAG_RE.match(tag):
        raise ValidationFailed(
            f"{field} must be 2-30 characters: capital letters, digits and '-' (e.g. BSC-01)",
            field=field,
        )
    return tag


def past_date(value: object, field: str, site: Site) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValidationFailed(f"{field} must be a date (YYYY-MM-DD)", field=field)
    if value > local_day(now(), site):
        raise ValidationFailed(f"{field} {value} is in the future", field=field)
    if value.year < 1900:
        raise ValidationFailed(f"{field} must be after the year 1900", field=field)
    return value


def local_day(value: dt.datetime, site: Site) -> dt.date:
    """The calendar day of `value` at the unit's site: due dates are read there."""
    return in_zone(value, site.time_zone).date()


def site(site_id: object, field: str = "site_id") -> Site:
    if isinstance(site_id, Site):
        return site_id
    if isinstance(site_id, bool) or not isinstance(site_id, int):
        raise ValidationFailed(f"{field} must be a site id", field=field)
    found = Site.objects.filter(pk=site_id, is_active=True).first()
    if found is None:
        raise NotFound(f"site {site_id} does not exist or is inactive", field=field)
    return found


def equipment(equipment_id: object, *, lock: bool = False) -> Equipment:
    """The unit with this asset tag (locked for update when asked)."""
    tag = equipment_id.equipment_id if isinstance(equipment_id, Equipment) else equipment_id
    if not isinstance(tag, str) or not _TAG_RE.match(tag.strip().upper()):
        raise NotFound(f"equipment {tag} does not exist", field="equipment_id")
    qs = Equipment.objects.select_related("site")
    if lock:
        qs = qs.select_for_update(no_key=True, of=("self",))
    found = qs.filter(equipment_id=tag.strip().upper()).first()
    if found is None:
        raise NotFound(f"equipment {tag} does not exist", field="equipment_id")
    return found


M = TypeVar("M", bound=models.Model)


def fetch(model: type[M], pk: object, field: str, *, lock: bool = False) -> M:
    key = _validate.record_id(pk, field, strict=True)
    qs = model._default_manager.all()
    if lock:
        qs = qs.select_for_update(no_key=True, of=("self",))
    obj = qs.filter(pk=key).first()
    if obj is None:
        raise NotFound(f"{model._meta.verbose_name} {key} does not exist", field=field)
    return obj


def not_retired(unit: Equipment) -> None:
    if unit.status == "retired":
        raise Conflict(f"{unit.equipment_id} is retired: nothing more is recorded on it")
