"""Helpers shared by the chain services: lookups that name the field, the order lock, the
identifier counters and the one place a custody event is appended. Private to chain.services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from django.db import models

from vein2vein.core import audit, numbering
from vein2vein.core.errors import Conflict, NotFound, PermissionRefused, ValidationFailed
from vein2vein.core.models import Site, User
from vein2vein.core.permissions import ROLE_PERMISSIONS, has_perm, security_log
from vein2vein.core.services import _validate
from vein2vein.core.time import in_zone, now
from vein2vein.core.transactions import in_service_transaction as in_service_transaction

from ..choices import ORDER_TRANSITIONS, CustodyKind, IdentifierKind, OrderStatus
from ..models import CustodyEvent, Patient, TherapyOrder, TherapyProduct

M = TypeVar("M", bound=models.Model)

text = _validate.text
reason = _validate.reason
choice = _validate.choice
date = _validate.date
moment = _validate.moment
record_id = _validate.record_id


def number(
    value: object,
    field: str,
    *,
    low: Decimal | int | str,
    high: Decimal | int | str,
    places: int,
    required: bool = True,
) -> Decimal | None:
    """A checked decimal as it will be stored: "250" becomes 250.0 for a field with one
    decimal, so a correction to the same value is no change and the audit trail shows the
    stored value, not the typed one."""
    num = _validate.number(value, field, low=low, high=high, places=places, required=required)
    return None if num is None else num.quantize(Decimal(1).scaleb(-places))


# Temperatures a cell therapy chain meets: LN2 vapour to a warm day, in °C.
TEMP_LOW, TEMP_HIGH = Decimal("-273.1"), Decimal("100")


def temperature(value: object, field: str, *, required: bool = True) -> Decimal | None:
    return number(value, field, low=TEMP_LOW, high=TEMP_HIGH, places=1, required=required)


def required_temperature(value: object, field: str) -> Decimal:
    found = temperature(value, field)
    if found is None:  # pragma: no cover - `number` refuses a blank required value
        raise ValidationFailed(f"{field} is required", field=field)
    return found


def site(site_id: object, field: str = "site_id") -> Site:
    if isinstance(site_id, Site):
        return site_id
    found = Site.objects.filter(pk=record_id(site_id, field), is_active=True).first()
    if found is None:
        raise NotFound(f"site {site_id} does not exist or is inactive", field=field)
    return found


def today_at(at: Site) -> dt.date:
    return in_zone(now(), at.time_zone).date()


def product(product_id: object, field: str = "product_id") -> TherapyProduct:
    found = TherapyProduct.objects.filter(pk=record_id(product_id, field)).first()
    if found is None:
        raise NotFound(f"product {product_id} does not exist", field=field)
    return found


def patient(patient_id: object, field: str = "patient_id") -> Patient:
    found = Patient.objects.select_related("site").filter(pk=record_id(patient_id, field)).first()
    if found is None:
        raise NotFound(f"patient {patient_id} does not exist", field=field)
    return found


_ORDER_RELATED = (
    "patient",
    "patient__site",
    "product",
    "ordering_site",
    "collection_site",
    "manufacturing_site",
)


def order(order_id: object, field: str = "order_id") -> TherapyOrder:
    """Read (unlocked) for the checks that run before the transaction."""
    found = (
        TherapyOrder.objects.select_related(*_ORDER_RELATED)
        .filter(pk=record_id(order_id, field))
        .first()
    )
    if found is None:
        raise NotFound(f"order {order_id} does not exist", field=field)
    return found


def locked_order(order_id: int) -> TherapyOrder:
    """The order row locked, and only it: with its joins, FOR UPDATE would also lock the
    patient, product and site rows every other order shares, serialising all chain work."""
    found = (
        TherapyOrder.objects.select_for_update(no_key=True, of=("self",))
        .select_related(*_ORDER_RELATED)
        .filter(pk=order_id)
        .first()
    )
    if found is None:
        raise NotFound(f"order {order_id} does not exist", field="order_id")
    return found


def order_sites(o: TherapyOrder) -> list[Site]:
    return [o.ordering_site, o.collection_site, o.manufacturing_site]


def require_at_any(actor: User, perm: str, sites: Iterable[Site], what: str) -> Site:
    """Refuse unless `actor` holds a role granting `perm` at one of `sites`; return that site
    (the first that grants it, in the order given)."""
    sites = list(sites)
    for candidate in sites:
        if has_perm(actor, perm, candidate):
            return candidate
    codes = ", ".join(dict.fromkeys(s.code for s in sites))
    allowed = ", ".join(sorted(ROLE_PERMISSIONS[perm]))
    security_log.warning("refused %s to %s at %s", perm, actor.get_username(), codes)
    raise PermissionRefused(f"{what} needs one of these roles at {codes}: {allowed}")


def check_transition(o: TherapyOrder, to: str) -> None:
    if to not in ORDER_TRANSITIONS[o.status]:
        raise Conflict(
            f"order {o.coi} is {OrderStatus(o.status).label.lower()}; it cannot become "
            f"{OrderStatus(to).label.lower()}",
            field="status",
        )


def next_identifier(kind: IdentifierKind, site: Site, at: dt.datetime) -> tuple[str, int]:
    """Inside the caller's transaction: the next sequence number for `kind` at the site's FIN
    in the two-digit year of `at` as the site's clock reads it (core.numbering)."""
    year, n = numbering.allocate(
        kind.value.upper(), site=site, yearly=True, scope=site.fin, at=at, maximum=999_999
    )
    return f"{year % 100:02d}", n


def append_custody(
    *,
    o: TherapyOrder,
    actor: User,
    at_site: Site,
    kind: CustodyKind,
    item: str,
    to_custodian: str,
    to_location: str,
    occurred_at: dt.datetime,
    status_after: str,
    temperature_c: Decimal | None = None,
    scanned_text: str = "",
    matched: str = "",
    note: str = "",
) -> CustodyEvent:
    """The only writer of custody events. `o` must be locked by the caller; the `from` side
    is the order's current custodian, so the chain has no gaps by construction."""
    if o.last_event_seq:
        last = CustodyEvent.objects.filter(order=o, seq=o.last_event_seq).first()
        if last is not None and occurred_at < last.occurred_at:
            raise ValidationFailed(
                f"occurred_at is before the previous custody event "
                f"(#{last.seq} at {last.occurred_at.isoformat()})",
                field="occurred_at",
            )
    event = CustodyEvent(
        order=o,
        seq=o.last_event_seq + 1,
        kind=kind,
        item=item,
        from_custodian=o.current_custodian,
        from_location=o.current_location,
        to_custodian=to_custodian,
        to_location=to_location,
        occurred_at=occurred_at,
        recorded_at=now(),
        temperature_c=temperature_c,
        scanned_text=scanned_text,
        matched=matched,
        status_after=status_after,
        note=note,
        recorded_by=actor,
        site=at_site,
    )
    event.save(force_insert=True)
    o.last_event_seq = event.seq
    o.current_custodian = to_custodian
    o.current_location = to_location
    return event


def apply_correction(
    instance: M,
    values: Mapping[str, Any],
    *,
    fields: Iterable[str],
    check: Callable[[M], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Set `values` on a locked record and save what changed; the caller audits the returned
    old → new changes with its reason. Refuses a correction that changes nothing."""
    fields = tuple(fields)
    before = audit.snapshot(instance, fields)
    for key, value in values.items():
        setattr(instance, key, value)
    if check is not None:
        check(instance)
    changes = audit.diff(before, audit.snapshot(instance, fields))
    if not changes:
        raise ValidationFailed("nothing to change: every value is as it was", field=None)
    instance.save(update_fields=list(changes))
    return changes


def occurred(value: object, field: str = "occurred_at") -> dt.datetime:
    """When a handoff happened: server time unless a (past) time is stated for a late entry."""
    if value in (None, ""):
        return now()
    return moment(value, field)
