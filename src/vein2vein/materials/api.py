"""materials API at /api/v1/materials; thin: parse, call a service or selector, serialize.

Routes: suppliers (list, create, get, correct, status); materials (list, create, get,
correct, approve/remove a supplier); lots (list, receive (multipart), get, CoA, usable?,
release, reject, hold, release-hold, consume, adjust, ledger); reports (fefo, low-stock,
expiring); kits (list, assemble, get); CSV import of lots (multipart).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.http import FileResponse, HttpRequest
from ninja import File, Form, Query, Router, Status, UploadedFile

from vein2vein.core.actors import api_user
from vein2vein.core.api import ERRORS
from vein2vein.core.errors import Conflict, NotFound
from vein2vein.core.files import verified_copy
from vein2vein.core.models import Site, User
from vein2vein.core.pagination import Page, page_of
from vein2vein.core.permissions import require
from vein2vein.core.signing import manifestation, signatures_for
from vein2vein.core.time import now
from vein2vein.web.lists import api_rows

from . import selectors, services
from .choices import INSPECTION_ITEMS
from .filters import LotApiFilterSet
from .models import InventoryTransaction, Kit, Lot, Material, MaterialSupplier, Supplier
from .permissions import MatPerm
from .schemas import (
    MAX_ID,
    AdjustIn,
    ConsumeIn,
    DaysFilter,
    ExpiringOut,
    FefoFilter,
    ImportOut,
    KitComponentOut,
    KitIn,
    KitOut,
    LotFilter,
    LotOut,
    ManifestationOut,
    MaterialIn,
    MaterialOut,
    MaterialPatch,
    MaterialsSignIn,
    ReasonIn,
    StockOut,
    SupplierIn,
    SupplierLinkIn,
    SupplierOut,
    SupplierPatch,
    SupplierStatusIn,
    TransactionOut,
    UsableFilter,
    UsableOut,
)

router = Router(tags=["materials"])


def _view(request: HttpRequest) -> User:
    user = api_user(request)
    require(user, MatPerm.VIEW)
    return user


def _get(model: type, pk: int, name: str, field: str):  # type: ignore[no-untyped-def]
    found = model._default_manager.filter(pk=pk).first() if 1 <= pk <= MAX_ID else None
    if found is None:
        raise NotFound(f"{name} {pk} does not exist", field=field)
    return found


def _transaction_out(t: InventoryTransaction) -> TransactionOut:
    return TransactionOut(
        id=t.pk,
        kind=t.kind,
        quantity=t.quantity,
        balance_after=t.balance_after,
        reason=t.reason,
        reference=t.reference,
        record_type=t.record_type,
        record_id=t.record_id,
        kit=t.kit.kit_number if t.kit else None,
        actor=t.actor.username,
        occurred_at=t.occurred_at,
    )


def _lot_out(lot: Lot, *, full: bool = False, at: dt.datetime | None = None) -> LotOut:
    usable = selectors.check_material_usable(lot, None, "0.001", at)
    signatures = []
    if full:
        for sig in signatures_for(lot):
            m = manifestation(sig, lot)
            signatures.append(
                ManifestationOut(
                    meaning=m.meaning,
                    printed_name=m.printed_name,
                    username=m.username,
                    signed_at=m.signed_at,
                    valid=m.valid,
                    reason=m.reason,
                )
            )
    return LotOut(
        id=lot.pk,
        lot_number=lot.lot_number,
        part_number=lot.material.part_number,
        material=lot.material.name,
        supplier=lot.supplier.name,
        supplier_status=lot.supplier.status,
        supplier_lot=lot.supplier_lot,
        site=lot.site.code,
        location=lot.location,
        quantity_received=lot.quantity_received,
        on_hand=lot.on_hand,
        unit=lot.unit,
        expiry_date=lot.expiry_date,
        status=lot.status,
        hold_reason=lot.hold_reason,
        attributes={str(k): str(v) for k, v in (lot.attributes or {}).items()},
        inspection={name: getattr(lot, name) for name, _ in INSPECTION_ITEMS},
        inspection_remarks=lot.inspection_remarks,
        received_by=lot.received_by.username,
        received_at=lot.received_at,
        imported=lot.imported,
        coa_file_name=lot.coa_file_name,
        coa_sha256=lot.coa_sha256,
        disposition_by=lot.disposition_by.username if lot.disposition_by else None,
        disposition_at=lot.disposition_at,
        disposition_reason=lot.disposition_reason,
        usable_now=usable.ok,
        not_usable_because=usable.messages,
        signatures=signatures,
        transactions=[_transaction_out(t) for t in selectors.ledger(lot)] if full else [],
    )


def _lot(lot_id: int) -> Lot:
    found = selectors.lots().filter(pk=lot_id).first() if 1 <= lot_id <= MAX_ID else None
    if found is None:
        raise NotFound(f"lot {lot_id} does not exist", field="lot_id")
    return found


def _links(m: Material) -> Iterable[MaterialSupplier]:
    prefetched: list[MaterialSupplier] | None = getattr(m, "active_supplier_links", None)
    return prefetched if prefetched is not None else selectors.active_links(m)


def _material_out(m: Material) -> MaterialOut:
    return MaterialOut(
        id=m.pk,
        part_number=m.part_number,
        name=m.name,
        kind=m.kind,
        unit=m.unit,
        storage_condition=m.storage_condition,
        qc_release_required=m.qc_release_required,
        reorder_level=m.reorder_level,
        description=m.description,
        approved_suppliers=[link.supplier.name for link in _links(m)],
    )


def _kit_out(kit: Kit) -> KitOut:
    usable = selectors.check_kit_usable(kit)
    return KitOut(
        id=kit.pk,
        kit_number=kit.kit_number,
        name=kit.name,
        site=kit.site.code,
        location=kit.location,
        assembled_by=kit.assembled_by.username,
        assembled_at=kit.assembled_at,
        remarks=kit.remarks,
        usable_now=usable.ok,
        not_usable_because=usable.messages,
        components=[
            KitComponentOut(
                lot_id=c.lot_id,
                lot_number=c.lot.lot_number,
                part_number=c.lot.material.part_number,
                quantity=c.quantity,
            )
            for c in kit.components.select_related("lot__material")
        ],
    )


# --- suppliers ------------------------------------------------------------------------------
@router.get("/suppliers", response={200: list[SupplierOut], **ERRORS})
def list_suppliers(request: HttpRequest, page: Query[Page]) -> list[Supplier]:
    _view(request)
    return page_of(selectors.suppliers(), page)


@router.post("/suppliers", response={201: SupplierOut, **ERRORS})
def create_supplier(request: HttpRequest, payload: SupplierIn) -> Status[Supplier]:
    return Status(201, services.create_supplier(actor=api_user(request), **payload.dict()))


@router.get("/suppliers/{int:supplier_id}", response={200: SupplierOut, **ERRORS})
def get_supplier(request: HttpRequest, supplier_id: int) -> Supplier:
    _view(request)
    return _get(Supplier, supplier_id, "supplier", "supplier_id")  # type: ignore[no-any-return]


@router.patch("/suppliers/{int:supplier_id}", response={200: SupplierOut, **ERRORS})
def update_supplier(request: HttpRequest, supplier_id: int, payload: SupplierPatch) -> Supplier:
    fields = payload.dict(exclude_unset=True, exclude_none=True)
    reason = fields.pop("reason")
    return services.update_supplier(
        actor=api_user(request), supplier_id=supplier_id, reason=reason, **fields
    )


@router.post("/suppliers/{int:supplier_id}/status", response={200: SupplierOut, **ERRORS})
def set_supplier_status(
    request: HttpRequest, supplier_id: int, payload: SupplierStatusIn
) -> Supplier:
    return services.set_supplier_status(
        actor=api_user(request), supplier_id=supplier_id, **payload.dict()
    )


# --- materials ------------------------------------------------------------------------------
@router.get("/materials", response={200: list[MaterialOut], **ERRORS})
def list_materials(request: HttpRequest, page: Query[Page]) -> list[MaterialOut]:
    _view(request)
    return [_material_out(m) for m in page_of(selectors.materials_with_links(), page)]


@router.post("/materials", response={201: MaterialOut, **ERRORS})
def create_material(request: HttpRequest, payload: MaterialIn) -> Status[MaterialOut]:
    m = services.create_material(actor=api_user(request), **payload.dict())
    return Status(201, _material_out(m))


@router.get("/materials/{int:material_id}", response={200: MaterialOut, **ERRORS})
def get_material(request: HttpRequest, material_id: int) -> MaterialOut:
    _view(request)
    return _material_out(_get(Material, material_id, "material", "material_id"))


@router.patch("/materials/{int:material_id}", response={200: MaterialOut, **ERRORS})
def update_material(request: HttpRequest, material_id: int, payload: MaterialPatch) -> MaterialOut:
    fields = payload.dict(exclude_unset=True, exclude_none=True)
    reason = fields.pop("reason")
    m = services.update_material(
        actor=api_user(request), material_id=material_id, reason=reason, **fields
    )
    return _material_out(m)


@router.post("/materials/{int:material_id}/suppliers", response={201: MaterialOut, **ERRORS})
def approve_supplier(
    request: HttpRequest, material_id: int, payload: SupplierLinkIn
) -> Status[MaterialOut]:
    link = services.approve_supplier_for_material(
        actor=api_user(request), material_id=material_id, **payload.dict()
    )
    return Status(201, _material_out(link.material))


@router.post(
    "/materials/{int:material_id}/suppliers/{int:supplier_id}/remove",
    response={200: MaterialOut, **ERRORS},
)
def remove_supplier(
    request: HttpRequest, material_id: int, supplier_id: int, payload: ReasonIn
) -> MaterialOut:
    link = services.remove_supplier_from_material(
        actor=api_user(request),
        material_id=material_id,
        supplier_id=supplier_id,
        reason=payload.reason,
    )
    return _material_out(link.material)


# --- lots -----------------------------------------------------------------------------------
@router.get("/lots", response={200: list[LotOut], **ERRORS})
def list_lots(request: HttpRequest, filters: Query[LotFilter]) -> list[LotOut]:
    _view(request)
    qs = api_rows(LotApiFilterSet, filters, selectors.lots(), request)
    at = now()
    return [_lot_out(lot, at=at) for lot in page_of(qs, filters)]


@router.post("/lots", response={201: LotOut, **ERRORS})
def receive_lot(
    request: HttpRequest,
    site_id: Form[int],
    material_id: Form[int],
    supplier_id: Form[int],
    supplier_lot: Form[str],
    quantity: Form[str],
    expiry_date: Form[str],
    location: Form[str],
    packaging_intact: Form[bool],
    labels_match: Form[bool],
    temperature_ok: Form[bool],
    coa_matches: Form[bool],
    unit: Form[str] = "",
    remarks: Form[str] = "",
    titer_tu_per_ml: Form[str] = "",
    coa_file: File[UploadedFile | None] = None,
) -> Status[LotOut]:
    """Receive a lot (multipart form, with the supplier's CoA PDF as `coa_file`)."""
    lot = services.receive_lot(
        actor=api_user(request),
        site_id=site_id,
        material_id=material_id,
        supplier_id=supplier_id,
        supplier_lot=supplier_lot,
        quantity=quantity,
        unit=unit,
        expiry_date=expiry_date,
        location=location,
        inspection={
            "packaging_intact": packaging_intact,
            "labels_match": labels_match,
            "temperature_ok": temperature_ok,
            "coa_matches": coa_matches,
        },
        remarks=remarks,
        coa_file=coa_file,
        attributes={"titer_tu_per_ml": titer_tu_per_ml} if titer_tu_per_ml else None,
    )
    return Status(201, _lot_out(_lot(lot.pk), full=True))


@router.get("/lots/{int:lot_id}", response={200: LotOut, **ERRORS})
def get_lot(request: HttpRequest, lot_id: int) -> LotOut:
    _view(request)
    return _lot_out(_lot(lot_id), full=True)


@router.get("/lots/{int:lot_id}/coa", response={200: None, **ERRORS})
def lot_coa(request: HttpRequest, lot_id: int) -> FileResponse:
    _view(request)
    lot = _lot(lot_id)
    if not lot.coa_file or not lot.coa_sha256:
        raise NotFound(f"{lot} has no CoA", field="coa_file")
    copy = verified_copy(lot.coa_file.name, lot.coa_sha256)
    if copy is None:
        raise Conflict(
            f"the stored CoA of {lot} is missing or no longer matches its SHA-256; it is not "
            "served. Report it to QA.",
            field="coa_file",
        )
    response = FileResponse(copy, content_type="application/pdf", filename=lot.coa_file_name)
    response["X-Content-SHA256"] = lot.coa_sha256
    return response


@router.get("/lots/{int:lot_id}/usable", response={200: UsableOut, **ERRORS})
def lot_usable(request: HttpRequest, lot_id: int, filters: Query[UsableFilter]) -> UsableOut:
    """The gate's question without acting: may this quantity of the lot be used (at `at`)?"""
    _view(request)
    result = selectors.check_material_usable(
        _lot(lot_id), filters.part_number, filters.quantity, filters.at
    )
    return UsableOut(
        lot=result.lot,
        ok=result.ok,
        reasons=result.reasons,
        messages=result.messages,
        message=result.message,
        at=result.at,
    )


@router.get("/lots/{int:lot_id}/transactions", response={200: list[TransactionOut], **ERRORS})
def lot_transactions(request: HttpRequest, lot_id: int, page: Query[Page]) -> list[TransactionOut]:
    _view(request)
    return [_transaction_out(t) for t in page_of(selectors.ledger(_lot(lot_id)), page)]


@router.post("/lots/{int:lot_id}/release", response={200: LotOut, **ERRORS})
def release_lot(request: HttpRequest, lot_id: int, payload: MaterialsSignIn) -> LotOut:
    services.release_lot(actor=api_user(request), lot_id=lot_id, request=request, **payload.dict())
    return _lot_out(_lot(lot_id), full=True)


@router.post("/lots/{int:lot_id}/reject", response={200: LotOut, **ERRORS})
def reject_lot(request: HttpRequest, lot_id: int, payload: MaterialsSignIn) -> LotOut:
    services.reject_lot(actor=api_user(request), lot_id=lot_id, request=request, **payload.dict())
    return _lot_out(_lot(lot_id), full=True)


@router.post("/lots/{int:lot_id}/hold", response={200: LotOut, **ERRORS})
def hold_lot(request: HttpRequest, lot_id: int, payload: ReasonIn) -> LotOut:
    services.hold_lot(actor=api_user(request), lot_id=lot_id, reason=payload.reason)
    return _lot_out(_lot(lot_id), full=True)


@router.post("/lots/{int:lot_id}/release-hold", response={200: LotOut, **ERRORS})
def release_hold(request: HttpRequest, lot_id: int, payload: ReasonIn) -> LotOut:
    services.release_hold(actor=api_user(request), lot_id=lot_id, reason=payload.reason)
    return _lot_out(_lot(lot_id), full=True)


@router.post("/lots/{int:lot_id}/consume", response={201: TransactionOut, **ERRORS})
def consume_lot(request: HttpRequest, lot_id: int, payload: ConsumeIn) -> Status[TransactionOut]:
    record = None
    if payload.record_type and payload.record_id:
        record = (payload.record_type, payload.record_id)
    row = services.consume_lot(
        actor=api_user(request),
        lot_id=lot_id,
        quantity=payload.quantity,
        reference=payload.reference,
        part=payload.part_number,
        record=record,
    )
    return Status(201, _transaction_out(row))


@router.post("/lots/{int:lot_id}/adjust", response={201: TransactionOut, **ERRORS})
def adjust_lot(request: HttpRequest, lot_id: int, payload: AdjustIn) -> Status[TransactionOut]:
    row = services.adjust_lot(
        actor=api_user(request), lot_id=lot_id, quantity=payload.quantity, reason=payload.reason
    )
    return Status(201, _transaction_out(row))


# --- reports --------------------------------------------------------------------------------
def _site(site_id: int | None) -> Site | None:
    if site_id is None:
        return None
    return _get(Site, site_id, "site", "site_id")  # type: ignore[no-any-return]


@router.get("/fefo", response={200: list[LotOut], **ERRORS})
def fefo(request: HttpRequest, filters: Query[FefoFilter]) -> list[LotOut]:
    """First-expiry-first-out suggestion for a part: the first lot is the one to use."""
    _view(request)
    if not Material.objects.filter(part_number=filters.part_number).exists():
        raise NotFound(f"part number {filters.part_number} does not exist", field="part_number")
    usable = selectors.fefo(filters.part_number, site=_site(filters.site_id))
    return [_lot_out(lot) for lot in page_of(usable, filters)]


def _stock_out(line: selectors.StockLine) -> StockOut:
    return StockOut(
        part_number=line.material.part_number,
        name=line.material.name,
        unit=line.material.unit,
        usable=line.usable,
        quarantine=line.quarantine,
        reorder_level=line.material.reorder_level,
    )


@router.get("/low-stock", response={200: list[StockOut], **ERRORS})
def low_stock(request: HttpRequest, page: Query[Page]) -> list[StockOut]:
    """One line per material (bounded by the catalogue, not by history), then the window."""
    _view(request)
    return [_stock_out(line) for line in page_of(selectors.low_stock(), page)]


@router.get("/expiring", response={200: list[ExpiringOut], **ERRORS})
def expiring(request: HttpRequest, filters: Query[DaysFilter]) -> list[ExpiringOut]:
    _view(request)
    return [
        ExpiringOut(lot=_lot_out(lot), expired=expired)
        for lot, expired in selectors.expiring(
            days=filters.days, limit=filters.limit, offset=filters.offset
        )
    ]


# --- kits -----------------------------------------------------------------------------------
@router.get("/kits", response={200: list[KitOut], **ERRORS})
def list_kits(request: HttpRequest, page: Query[Page]) -> list[KitOut]:
    _view(request)
    return [_kit_out(k) for k in page_of(selectors.kits(), page)]


@router.post("/kits", response={201: KitOut, **ERRORS})
def assemble_kit(request: HttpRequest, payload: KitIn) -> Status[KitOut]:
    data = payload.dict()
    kit = services.assemble_kit(actor=api_user(request), **data)
    return Status(201, _kit_out(kit))


@router.get("/kits/{int:kit_id}", response={200: KitOut, **ERRORS})
def get_kit(request: HttpRequest, kit_id: int) -> KitOut:
    _view(request)
    return _kit_out(_get(Kit, kit_id, "kit", "kit_id"))


# --- import ---------------------------------------------------------------------------------
@router.post("/imports/lots", response={201: ImportOut, **ERRORS})
def import_lots(
    request: HttpRequest, site_id: Form[int], file: File[UploadedFile]
) -> Status[ImportOut]:
    """Import lots from a CSV (see the columns on the import page). One bad row imports
    nothing; the 400 answer lists `errors` with each row, field and message."""
    created = services.import_lots(actor=api_user(request), site_id=site_id, file=file)
    return Status(201, ImportOut(imported=len(created), lots=created))
