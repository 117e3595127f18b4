"""Master data: the approved supplier list and the material master, audited with reasons."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction

from vein2vein.core import audit
from vein2vein.core.errors import Conflict, NotFound, ValidationFailed
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.services._validate import choice as _one_of
from vein2vein.core.time import now

from ..choices import MaterialKind, StorageCondition, SupplierStatus
from ..models import Material, MaterialSupplier, Supplier
from ..permissions import MatPerm
from . import _common as c

_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
SUPPLIER_EDITABLE = ("contact", "qualification_date", "reevaluation_due")
MATERIAL_EDITABLE = (
    "name",
    "unit",
    "storage_condition",
    "qc_release_required",
    "reorder_level",
    "description",
)


def _supplier_fields(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in data:
        out["name"] = c.text(data["name"], "name", max_length=200)
    if "status" in data:
        out["status"] = _one_of(data["status"], "status", SupplierStatus.values)
    if "contact" in data:
        out["contact"] = c.text(data["contact"], "contact", max_length=2000, required=False)
    for key in ("qualification_date", "reevaluation_due"):
        if key in data:
            out[key] = c.date(data[key], key, required=False)
    q, r = out.get("qualification_date"), out.get("reevaluation_due")
    if q is not None and r is not None and r <= q:
        raise ValidationFailed(
            "reevaluation_due must be after the qualification_date", field="reevaluation_due"
        )
    return out


def create_supplier(
    *,
    actor: User,
    name: str,
    status: str,
    qualification_date: object = None,
    reevaluation_due: object = None,
    contact: str = "",
) -> Supplier:
    require(actor, MatPerm.MASTER)
    values = _supplier_fields(
        {
            "name": name,
            "status": status,
            "qualification_date": qualification_date,
            "reevaluation_due": reevaluation_due,
            "contact": contact,
        }
    )
    with transaction.atomic():
        if Supplier.objects.filter(name__iexact=values["name"]).exists():
            raise ValidationFailed(f"supplier {values['name']} already exists", field="name")
        try:
            with transaction.atomic():
                supplier = Supplier.objects.create(created_at=now(), **values)
        except IntegrityError as exc:
            raise Conflict("another supplier with this name was just created") from exc
        audit.append_event(
            actor=actor,
            action="materials.supplier.created",
            record=supplier,
            changes=audit.created(audit.snapshot(supplier, Supplier.RECORD_FIELDS)),
        )
    return supplier


def _locked_supplier(supplier_id: object) -> Supplier:
    found = (
        Supplier.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk=c.pk(supplier_id, "supplier_id"))
        .first()
    )
    if found is None:
        raise NotFound(f"supplier {supplier_id} does not exist", field="supplier_id")
    return found


def update_supplier(*, actor: User, supplier_id: int, reason: str, **fields: Any) -> Supplier:
    """Correct contact or qualification dates; the old values and the reason stay audited."""
    require(actor, MatPerm.MASTER)
    unknown = sorted(set(fields) - set(SUPPLIER_EDITABLE))
    if unknown:
        raise ValidationFailed(f"{unknown[0]} cannot be changed here", field=unknown[0])
    why = c.reason(reason)
    with transaction.atomic():
        supplier = _locked_supplier(supplier_id)
        before = audit.snapshot(supplier, Supplier.RECORD_FIELDS)
        merged = {k: getattr(supplier, k) for k in ("qualification_date", "reevaluation_due")}
        merged.update(fields)
        values = _supplier_fields(merged)
        for key, value in values.items():
            setattr(supplier, key, value)
        changes = audit.diff(before, audit.snapshot(supplier, Supplier.RECORD_FIELDS))
        if not changes:
            raise ValidationFailed("nothing to change: every value is as it was", field=None)
        supplier.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor,
            action="materials.supplier.updated",
            record=supplier,
            changes=changes,
            reason=why,
        )
    return supplier


def set_supplier_status(
    *,
    actor: User,
    supplier_id: int,
    status: str,
    reason: str,
    qualification_date: object = None,
    reevaluation_due: object = None,
) -> Supplier:
    """Approve, make conditional or disqualify a supplier. Only an approved supplier's lots can
    be released; lots already released stay released (put them on hold if they must not be
    used)."""
    require(actor, MatPerm.MASTER)
    new = _one_of(status, "status", SupplierStatus.values)
    why = c.reason(reason)
    dates = {
        k: v
        for k, v in (
            ("qualification_date", qualification_date),
            ("reevaluation_due", reevaluation_due),
        )
        if v not in (None, "")
    }
    with transaction.atomic():
        supplier = _locked_supplier(supplier_id)
        if supplier.status == new and not dates:
            raise Conflict(
                f"{supplier} is already {supplier.get_status_display().lower()}", field="status"
            )
        before = audit.snapshot(supplier, Supplier.RECORD_FIELDS)
        merged = {
            "qualification_date": supplier.qualification_date,
            "reevaluation_due": supplier.reevaluation_due,
            **dates,
        }
        values = _supplier_fields({"status": new, **merged})
        for key, value in values.items():
            setattr(supplier, key, value)
        changes = audit.diff(before, audit.snapshot(supplier, Supplier.RECORD_FIELDS))
        supplier.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor,
            action="materials.supplier.status_changed",
            record=supplier,
            changes=changes,
            reason=why,
        )
    return supplier


def _material_fields(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "part_number" in data:
        part = c.text(data["part_number"], "part_number", max_length=40)
        if not _PART_RE.match(part):
            raise ValidationFailed(
                "part_number must be 1-40 letters, digits and . _ / -", field="part_number"
            )
        out["part_number"] = part
    if "name" in data:
        out["name"] = c.text(data["name"], "name", max_length=200)
    if "kind" in data:
        out["kind"] = _one_of(data["kind"], "kind", MaterialKind.values)
    if "unit" in data:
        out["unit"] = c.text(data["unit"], "unit", max_length=20)
    if "storage_condition" in data:
        out["storage_condition"] = _one_of(
            data["storage_condition"], "storage_condition", StorageCondition.values
        )
    if "qc_release_required" in data:
        out["qc_release_required"] = c.boolean(data["qc_release_required"], "qc_release_required")
    if "reorder_level" in data:
        level = data["reorder_level"]
        out["reorder_level"] = (
            c.quantity(level, "reorder_level") if level not in (0, "0", None, "") else 0
        )
    if "description" in data:
        out["description"] = c.text(
            data["description"], "description", max_length=4000, required=False
        )
    return out


def create_material(
    *,
    actor: User,
    part_number: str,
    name: str,
    kind: str,
    unit: str,
    storage_condition: str,
    qc_release_required: bool = True,
    reorder_level: object = 0,
    description: str = "",
) -> Material:
    require(actor, MatPerm.MASTER)
    values = _material_fields(
        {
            "part_number": part_number,
            "name": name,
            "kind": kind,
            "unit": unit,
            "storage_condition": storage_condition,
            "qc_release_required": qc_release_required,
            "reorder_level": reorder_level,
            "description": description,
        }
    )
    with transaction.atomic():
        if Material.objects.filter(part_number__iexact=values["part_number"]).exists():
            raise ValidationFailed(
                f"part_number {values['part_number']} is already used", field="part_number"
            )
        try:
            with transaction.atomic():
                material = Material.objects.create(created_at=now(), **values)
        except IntegrityError as exc:
            raise Conflict("another material with this part number was just created") from exc
        audit.append_event(
            actor=actor,
            action="materials.material.created",
            record=material,
            changes=audit.created(audit.snapshot(material, Material.RECORD_FIELDS)),
        )
    return material


def update_material(*, actor: User, material_id: int, reason: str, **fields: Any) -> Material:
    """Correct a material; the part number and kind are its identity and do not change."""
    require(actor, MatPerm.MASTER)
    unknown = sorted(set(fields) - set(MATERIAL_EDITABLE))
    if unknown:
        raise ValidationFailed(f"{unknown[0]} cannot be changed", field=unknown[0])
    values = _material_fields(fields)
    why = c.reason(reason)
    with transaction.atomic():
        material = (
            Material.objects.select_for_update(no_key=True, of=("self",))
            .filter(pk=c.pk(material_id, "material_id"))
            .first()
        )
        if material is None:
            raise NotFound(f"material {material_id} does not exist", field="material_id")
        if "unit" in values and values["unit"] != material.unit and material.lots.exists():
            raise Conflict(
                f"{material.part_number} has lots received in {material.unit}: "
                "its unit of measure cannot change",
                field="unit",
            )
        before = audit.snapshot(material, Material.RECORD_FIELDS)
        for key, value in values.items():
            setattr(material, key, value)
        changes = audit.diff(before, audit.snapshot(material, Material.RECORD_FIELDS))
        if not changes:
            raise ValidationFailed("nothing to change: every value is as it was", field=None)
        material.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor,
            action="materials.material.updated",
            record=material,
            changes=changes,
            reason=why,
        )
    return material


def approve_supplier_for_material(
    *, actor: User, material_id: int, supplier_id: int, reason: str = ""
) -> MaterialSupplier:
    """Put a supplier on a material's approved list (a disqualified one cannot be added)."""
    require(actor, MatPerm.MASTER)
    why = c.text(reason, "reason", max_length=2000, required=False)
    with transaction.atomic():
        material = (
            Material.objects.select_for_update(no_key=True, of=("self",))
            .filter(pk=c.pk(material_id, "material_id"))
            .first()
        )
        if material is None:
            raise NotFound(f"material {material_id} does not exist", field="material_id")
        supplier = _locked_supplier(supplier_id)
        if supplier.status == SupplierStatus.DISQUALIFIED:
            raise Conflict(f"{supplier} is disqualified", field="supplier_id")
        if material.supplier_links.filter(supplier=supplier, removed_at__isnull=True).exists():
            raise Conflict(
                f"{supplier} is already approved for {material.part_number}", field="supplier_id"
            )
        link = MaterialSupplier.objects.create(
            material=material, supplier=supplier, added_by=actor, added_at=now()
        )
        audit.append_event(
            actor=actor,
            action="materials.material.supplier_added",
            record=material,
            changes={"supplier": {"old": None, "new": supplier.name}},
            reason=why,
        )
    return link


def remove_supplier_from_material(
    *, actor: User, material_id: int, supplier_id: int, reason: str
) -> MaterialSupplier:
    require(actor, MatPerm.MASTER)
    why = c.reason(reason)
    with transaction.atomic():
        link = (
            MaterialSupplier.objects.select_for_update(no_key=True, of=("self",))
            .select_related("material", "supplier")
            .filter(
                material_id=c.pk(material_id, "material_id"),
                supplier_id=c.pk(supplier_id, "supplier_id"),
                removed_at__isnull=True,
            )
            .first()
        )
        if link is None:
            raise NotFound("this supplier is not approved for this material", field="supplier_id")
        link.removed_at, link.removed_by, link.remove_reason = now(), actor, why
        link.save(update_fields=["removed_at", "removed_by", "remove_reason"])
        audit.append_event(
            actor=actor,
            action="materials.material.supplier_removed",
            record=link.material,
            changes={"supplier": {"old": link.supplier.name, "new": None}},
            reason=why,
        )
    return link
