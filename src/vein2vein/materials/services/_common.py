"""Input checks and helpers shared by the materials services; each names the field at fault."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.files import File

from vein2vein.core import numbering
from vein2vein.core.errors import NotFound, ValidationFailed
from vein2vein.core.files import CheckedFile, stored_sha256
from vein2vein.core.models import Site
from vein2vein.core.services._validate import date as date
from vein2vein.core.services._validate import reason as reason
from vein2vein.core.services._validate import text as text
from vein2vein.core.transactions import in_service_transaction as in_service_transaction

from ..models import Lot, Material, Supplier

MAX_QUANTITY = Decimal("1000000000")


def quantity(value: object, field: str = "quantity", *, signed: bool = False) -> Decimal:
    """A quantity with at most 3 decimals; positive, or (signed) any non-zero value."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValidationFailed(f"{field} is required", field=field)
    try:
        qty = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{field} must be a number, not {value!r}", field=field) from None
    if not qty.is_finite():
        raise ValidationFailed(f"{field} must be a finite number", field=field)
    if qty.as_tuple().exponent < -3:  # type: ignore[operator]
        raise ValidationFailed(f"{field} may have at most 3 decimals", field=field)
    if abs(qty) >= MAX_QUANTITY:
        raise ValidationFailed(f"{field} must be less than {MAX_QUANTITY}", field=field)
    if signed and qty == 0:
        raise ValidationFailed(f"{field} must not be zero", field=field)
    if not signed and qty <= 0:
        raise ValidationFailed(f"{field} must be greater than zero", field=field)
    return qty


def boolean(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(f"{field} must be true or false", field=field)
    return value


MAX_PK = 2**63 - 1


def pk(value: object, field: str) -> int:
    """A record id: a positive whole number a database can hold (else the field is named)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PK:
        raise ValidationFailed(f"{field} must be a record id", field=field)
    return value


def site(site_id: object) -> Site:
    found = Site.objects.filter(pk=pk(site_id, "site_id"), is_active=True).first()
    if found is None:
        raise NotFound(f"site {site_id} does not exist or is inactive", field="site_id")
    return found


def material(material_id: object) -> Material:
    found = Material.objects.filter(pk=pk(material_id, "material_id")).first()
    if found is None:
        raise NotFound(f"material {material_id} does not exist", field="material_id")
    return found


def supplier(supplier_id: object) -> Supplier:
    found = Supplier.objects.filter(pk=pk(supplier_id, "supplier_id")).first()
    if found is None:
        raise NotFound(f"supplier {supplier_id} does not exist", field="supplier_id")
    return found


def lot(lot_id: object) -> Lot:
    found = Lot.objects.select_related("material", "supplier", "site").filter(
        pk=pk(lot_id, "lot_id")
    )
    first = found.first()
    if first is None:
        raise NotFound(f"lot {lot_id} does not exist", field="lot_id")
    return first


def lock_lot(lot_id: int, *related: str) -> Lot:
    """The lot, locked, with its material, supplier and site (and the `related` named)."""
    found = (
        Lot.objects.select_for_update(no_key=True, of=("self",))
        .select_related("material", "supplier", "site", *related)
        .filter(pk=lot_id)
        .first()
    )
    if found is None:
        raise NotFound(f"lot {lot_id} does not exist", field="lot_id")
    return found


def allocate(prefix: str, site: Site) -> str:
    """Inside the caller's transaction: the next number of `prefix` this year (as the site's
    clock reads it), e.g. LOT-2026-0001; one count across sites (core.numbering)."""
    year, n = numbering.allocate(prefix, site=site, yearly=True)
    return f"{prefix}-{year}-{n:04d}"


def store_coa(lot: Lot, upload: File, checked: CheckedFile, saved: list[str]) -> None:  # type: ignore[type-arg]
    """Write the checked CoA and prove the stored bytes are the hashed ones."""
    lot.coa_file.save(checked.stored_name, upload, save=False)
    saved.append(lot.coa_file.name)
    if stored_sha256(lot.coa_file.name) != checked.sha256:
        raise ValidationFailed(
            "file changed while it was being stored; upload it again", field="coa_file"
        )
    lot.coa_file_name = checked.original_name
    lot.coa_sha256 = checked.sha256
