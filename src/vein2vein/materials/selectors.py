"""Reads shared by pages, the API and other apps: the usability check, FEFO, stock reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db.models import Prefetch, Q, QuerySet, Sum

from vein2vein.core.models import Site, User
from vein2vein.core.permissions import active_roles
from vein2vein.core.time import now

from .choices import (
    REASON_EXPIRED,
    REASON_ON_HOLD,
    REASON_QUANTITY,
    REASON_QUARANTINE,
    REASON_REJECTED,
    REASON_WRONG_PART,
    LotStatus,
)
from .models import InventoryTransaction, Kit, Lot, Material, MaterialSupplier, Supplier
from .permissions import release_roles


@dataclass(frozen=True)
class Usability:
    """The answer of `check_material_usable`: `ok`, and each refusal as a code + message."""

    lot: str
    at: dt.datetime
    reasons: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.lot} is usable"
        return f"{self.lot} is not usable: " + "; ".join(self.messages)


def _as_quantity(value: object) -> Decimal | None:
    try:
        qty = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return qty if qty.is_finite() else None


def _part_number(part: Material | str | None) -> str | None:
    if part is None:
        return None
    return part.part_number if isinstance(part, Material) else str(part)


def _state_reasons(lot: Lot, moment: dt.datetime) -> list[tuple[str, str]]:
    """What refuses any use of the lot at `moment`: its status and its expiry."""
    reasons: list[tuple[str, str]] = []
    if lot.status == LotStatus.QUARANTINE:
        reasons.append((REASON_QUARANTINE, "in quarantine (not released)"))
    elif lot.status == LotStatus.REJECTED:
        reasons.append((REASON_REJECTED, "rejected"))
    elif lot.status == LotStatus.ON_HOLD:
        reasons.append((REASON_ON_HOLD, f"on hold ({lot.hold_reason})"))
    if lot.is_expired(moment):
        reasons.append((REASON_EXPIRED, f"expired on {lot.expiry_date.isoformat()}"))
    return reasons


def check_material_usable(
    lot: Lot, part: Material | str | None, quantity: object, at: dt.datetime | None = None
) -> Usability:
    """May `quantity` of `lot` be used, at `at` (default: now, the moment of use), where the
    record asks for `part`? A pure read: every reason that refuses is listed, none is written.
    Expiry is compared at `at`: a lot is usable through its expiry date in its site's zone."""
    moment = at or now()
    reasons = _state_reasons(lot, moment)
    wanted = _part_number(part)
    if wanted is not None and wanted != lot.material.part_number:
        reasons.append(
            (REASON_WRONG_PART, f"wrong part: the lot is {lot.material.part_number}, not {wanted}")
        )
    qty = _as_quantity(quantity)
    if qty is None or qty <= 0:
        reasons.append((REASON_QUANTITY, f"quantity {quantity!r} is not a positive number"))
    elif qty > lot.on_hand:
        reasons.append(
            (REASON_QUANTITY, f"not enough quantity: {lot.on_hand} {lot.unit} on hand, {qty} asked")
        )
    return Usability(
        lot=lot.lot_number,
        at=moment,
        reasons=[code for code, _ in reasons],
        messages=[text for _, text in reasons],
    )


def check_kit_usable(kit: Kit, at: dt.datetime | None = None) -> Usability:
    """A kit is usable only while every component lot is (status and expiry at `at`)."""
    moment = at or now()
    reasons: list[str] = []
    messages: list[str] = []
    for comp in kit.components.select_related("lot__material", "lot__site"):
        for code, text in _state_reasons(comp.lot, moment):
            reasons.append(code)
            messages.append(f"{comp.lot.lot_number} {text}")
    return Usability(lot=kit.kit_number, at=moment, reasons=reasons, messages=messages)


# --- lists ----------------------------------------------------------------------------------
def lots(
    *,
    status: str | None = None,
    material_id: int | None = None,
    part_number: str | None = None,
    site_id: int | None = None,
    location: str | None = None,
    expiring_days: int | None = None,
    usable: bool | None = None,
    search: str | None = None,
    at: dt.datetime | None = None,
) -> QuerySet[Lot]:
    """Lots, narrowed (`narrow_lots`)."""
    qs = Lot.objects.select_related("material", "supplier", "site", "received_by", "disposition_by")
    return narrow_lots(
        qs,
        status=status,
        material_id=material_id,
        part_number=part_number,
        site_id=site_id,
        location=location,
        expiring_days=expiring_days,
        usable=usable,
        search=search,
        at=at,
    )


def narrow_lots(
    qs: QuerySet[Lot],
    *,
    status: str | None = None,
    material_id: int | None = None,
    part_number: str | None = None,
    site_id: int | None = None,
    location: str | None = None,
    expiring_days: int | None = None,
    usable: bool | None = None,
    search: str | None = None,
    at: dt.datetime | None = None,
) -> QuerySet[Lot]:
    """What each lot filter means (the list page and the API: materials/filters.py)."""
    if status:
        qs = qs.filter(status=status)
    if material_id:
        qs = qs.filter(material_id=material_id)
    if part_number:
        qs = qs.filter(material__part_number=part_number)
    if site_id:
        qs = qs.filter(site_id=site_id)
    if location:
        qs = qs.filter(location__icontains=location)
    if search:
        qs = qs.filter(
            Q(lot_number__icontains=search)
            | Q(supplier_lot__icontains=search)
            | Q(material__name__icontains=search)
        )
    today = (at or now()).date()
    if expiring_days is not None:
        qs = qs.filter(
            expiry_date__lte=today + dt.timedelta(days=expiring_days), on_hand__gt=0
        ).exclude(status=LotStatus.REJECTED)
    if usable:
        # A database pre-filter (UTC date); the exact moment-of-use check is per lot.
        qs = qs.filter(status=LotStatus.RELEASED, on_hand__gt=0, expiry_date__gte=today)
    return qs


def fefo(
    part: Material | str, *, site: Site | None = None, at: dt.datetime | None = None
) -> list[Lot]:
    """First-expiry-first-out: released, unexpired lots with stock, the soonest expiry first,
    then the earliest received."""
    moment = at or now()
    qs = (
        Lot.objects.select_related("material", "supplier", "site", "received_by", "disposition_by")
        .filter(
            material__part_number=_part_number(part),
            status=LotStatus.RELEASED,
            on_hand__gt=0,
            expiry_date__gte=moment.date() - dt.timedelta(days=1),
        )
        .order_by("expiry_date", "received_at", "pk")
    )
    if site is not None:
        qs = qs.filter(site=site)
    return [lot for lot in qs if not lot.is_expired(moment)]


@dataclass(frozen=True)
class StockLine:
    material: Material
    usable: Decimal
    quarantine: Decimal

    @property
    def short_by(self) -> Decimal:
        return self.material.reorder_level - self.usable


def stock(*, site: Site | None = None, at: dt.datetime | None = None) -> list[StockLine]:
    """Usable (released, unexpired) and quarantined quantity on hand per material."""
    moment = at or now()
    usable: dict[int, Decimal] = {}
    quarantine: dict[int, Decimal] = {}
    qs = Lot.objects.filter(
        on_hand__gt=0, status__in=[LotStatus.RELEASED, LotStatus.QUARANTINE]
    ).select_related("site")
    if site is not None:
        qs = qs.filter(site=site)
    for lot in qs.order_by():  # one query for every material's lots
        if lot.status == LotStatus.QUARANTINE:
            quarantine[lot.material_id] = quarantine.get(lot.material_id, Decimal(0)) + lot.on_hand
        elif not lot.is_expired(moment):
            usable[lot.material_id] = usable.get(lot.material_id, Decimal(0)) + lot.on_hand
    return [
        StockLine(m, usable.get(m.pk, Decimal(0)), quarantine.get(m.pk, Decimal(0)))
        for m in Material.objects.all()
    ]


def low_stock(*, site: Site | None = None, at: dt.datetime | None = None) -> list[StockLine]:
    """Materials whose usable stock is at or below their reorder level (a level of 0 is off)."""
    return [
        line
        for line in stock(site=site, at=at)
        if line.material.reorder_level > 0 and line.usable <= line.material.reorder_level
    ]


def expiring_lots(
    *, days: int, site: Site | None = None, at: dt.datetime | None = None
) -> QuerySet[Lot]:
    """Lots with stock that expire within `days` (and those already expired), soonest first."""
    return lots(expiring_days=days, site_id=site.pk if site else None, at=at or now()).order_by(
        "expiry_date", "pk"
    )


def expiring(
    *,
    days: int,
    site: Site | None = None,
    at: dt.datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[tuple[Lot, bool]]:
    """expiring_lots, at most `limit` of them from `offset` (sliced in the database), each with
    whether it has already expired at `at`."""
    moment = at or now()
    qs = expiring_lots(days=days, site=site, at=moment)
    window = qs[offset : offset + limit] if limit is not None else qs[offset:]
    return [(lot, lot.is_expired(moment)) for lot in window]


def on_hand_by_location(*, site: Site | None = None) -> list[dict[str, object]]:
    """Quantity on hand per material, site and location (all statuses but rejected)."""
    qs = Lot.objects.filter(on_hand__gt=0).exclude(status=LotStatus.REJECTED)
    if site is not None:
        qs = qs.filter(site=site)
    return list(
        qs.values("material__part_number", "material__name", "unit", "site__code", "location")
        .annotate(quantity=Sum("on_hand"))
        .order_by("material__part_number", "site__code", "location")
    )


def ledger(lot: Lot) -> QuerySet[InventoryTransaction]:
    return lot.transactions.select_related("actor", "kit")


def ledger_sum(lot: Lot) -> Decimal:
    total = lot.transactions.aggregate(total=Sum("quantity"))["total"]
    return total if total is not None else Decimal(0)


def awaiting_release(user: User) -> QuerySet[Lot]:
    """Quarantined lots this user could sign the release of (not the ones they received)."""
    roles = active_roles(user)
    if not roles & release_roles(False):
        return Lot.objects.none()
    qs = lots(status=LotStatus.QUARANTINE).exclude(received_by=user)
    if not roles & release_roles(True):
        qs = qs.filter(material__qc_release_required=False)
    return qs.order_by("received_at", "pk")


def supplier_approved_for(lot: Lot) -> bool:
    return MaterialSupplier.objects.filter(
        material_id=lot.material_id, supplier_id=lot.supplier_id, removed_at__isnull=True
    ).exists()


def suppliers() -> QuerySet[Supplier]:
    return Supplier.objects.all()


def materials() -> QuerySet[Material]:
    return Material.objects.all()


def lots_of(material: Material, *, supplier_lot: str) -> QuerySet[Lot]:
    """A material's lots by the supplier's lot number."""
    return Lot.objects.filter(material=material, supplier_lot=supplier_lot)


def active_links(material: Material) -> QuerySet[MaterialSupplier]:
    return material.supplier_links.filter(removed_at__isnull=True).select_related("supplier")


def materials_with_links() -> QuerySet[Material]:
    """`materials()`, each with its `active_links` as `active_supplier_links`, in one more query."""
    return materials().prefetch_related(
        Prefetch(
            "supplier_links",
            MaterialSupplier.objects.filter(removed_at__isnull=True).select_related("supplier"),
            to_attr="active_supplier_links",
        )
    )


def kits() -> QuerySet[Kit]:
    return Kit.objects.select_related("site", "assembled_by")
