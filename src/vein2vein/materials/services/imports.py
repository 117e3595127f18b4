"""CSV import of lots, to migrate a site's stock into vein2vein.

Columns (a header row, UTF-8, comma-separated; extra columns are refused):

    part_number, supplier, supplier_lot, quantity, unit, expiry_date, location, status

- part_number: an existing material; supplier: an existing supplier's name.
- quantity: a positive number (at most 3 decimals); unit: blank or the material's unit.
- expiry_date: YYYY-MM-DD; location: free text at the chosen site.
- status (optional): quarantine (default) or on_hold. A lot is *released* only in vein2vein,
  with a release e-signature, so "released" is refused: migrated lots are re-released by QC.

Rows are numbered as a spreadsheet numbers them: the header is row 1, the first lot row 2.
The file is read twice as a stream (constant memory): every row is checked first, and only
when none is bad are all lots created, in one transaction. One bad row imports nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.db import transaction

from vein2vein.core import audit
from vein2vein.core.errors import DomainError, ValidationFailed
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.time import now

from ..choices import IMPORT_STATUSES, LotStatus, TransactionKind
from ..models import InventoryTransaction, Lot, Material, Supplier
from ..permissions import MatPerm
from . import _common as c

COLUMNS = ("part_number", "supplier", "supplier_lot", "quantity", "unit", "expiry_date", "location")
OPTIONAL = ("status",)
MAX_ERRORS = 100
MAX_FIELD = 1000


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.message}"


class ImportRejected(ValidationFailed):
    """The file has bad rows: nothing was imported. `errors` names each row and field."""

    def __init__(self, errors: list[RowError], more: int = 0) -> None:
        self.errors = errors
        self.more = more
        shown = "; ".join(str(e) for e in errors[:5])
        extra = len(errors) - 5 + more
        tail = f"; and {extra} more" if extra > 0 else ""
        super().__init__(f"nothing imported: {shown}{tail}", field="file")

    def as_dict(self) -> dict[str, Any]:
        return {
            "detail": self.message,
            "field": self.field,
            "errors": [{"row": e.row, "field": e.field, "message": e.message} for e in self.errors],
        }


@dataclass(frozen=True)
class ParsedRow:
    row: int
    material: Material
    supplier: Supplier
    supplier_lot: str
    quantity: Decimal
    unit: str
    expiry_date: Any
    location: str
    status: str


class _Lookup:
    """Master data read once per import (bounded by the master, not by the file)."""

    def __init__(self) -> None:
        self.materials = {m.part_number: m for m in Material.objects.all()}
        self.suppliers = {s.name.casefold(): s for s in Supplier.objects.all()}


def _binary(file: object) -> IO[bytes]:
    raw = getattr(file, "file", file)  # a Django upload wraps the real file object
    if not hasattr(raw, "read") or not hasattr(raw, "seek"):
        raise ValidationFailed("file must be an uploaded CSV file", field="file")
    return raw  # type: ignore[return-value]


def _rows(raw: IO[bytes]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column: value}) for each lot row, streamed through a text wrapper."""
    raw.seek(0)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed(f"row 1: cannot be read ({exc})", field="file") from None
        if header is None:
            raise ValidationFailed("file is empty: it needs a header row and lots", field="file")
        names = [h.strip().lower() for h in header]
        missing = [col for col in COLUMNS if col not in names]
        unknown = [n for n in names if n not in COLUMNS + OPTIONAL]
        if missing or unknown or len(set(names)) != len(names):
            problem = (
                f"missing column {missing[0]}"
                if missing
                else f"unknown column {unknown[0]!r}"
                if unknown
                else "a column is repeated"
            )
            raise ImportRejected(
                [RowError(1, "header", f"{problem}; expected {', '.join(COLUMNS + OPTIONAL)}")]
            )
        row_no = 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                raise ImportRejected(
                    [RowError(row_no + 1, "file", f"cannot be read ({exc}); save it as UTF-8 CSV")]
                ) from None
            row_no += 1
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(names):
                yield row_no, {"__width__": str(len(values))}
                continue
            yield row_no, dict(zip(names, values, strict=True))
    finally:
        text.detach()  # leave the caller's file open


def _parse(row: int, data: dict[str, str], lookup: _Lookup) -> ParsedRow | list[RowError]:
    if "__width__" in data:
        return [
            RowError(row, "row", f"has {data['__width__']} values, the header has more or fewer")
        ]
    errors: list[RowError] = []

    def check(fieldname: str, fn: Any) -> Any:
        value = data.get(fieldname, "")
        if len(value) > MAX_FIELD:
            errors.append(RowError(row, fieldname, f"longer than {MAX_FIELD} characters"))
            return None
        try:
            return fn(value)
        except DomainError as exc:
            message = exc.message
            if message.startswith(f"{fieldname}: "):
                message = message[len(fieldname) + 2 :]
            elif message.startswith(f"{fieldname} "):
                message = message[len(fieldname) + 1 :]
            errors.append(RowError(row, fieldname, message))
            return None

    def material(value: str) -> Material:
        found = lookup.materials.get(value.strip())
        if found is None:
            raise ValidationFailed(f"unknown part number {value.strip()!r}")
        return found

    def supplier(value: str) -> Supplier:
        found = lookup.suppliers.get(value.strip().casefold())
        if found is None:
            raise ValidationFailed(f"unknown supplier {value.strip()!r}")
        return found

    def status(value: str) -> str:
        value = value.strip().lower() or LotStatus.QUARANTINE
        if value not in IMPORT_STATUSES:
            raise ValidationFailed(
                f"{value!r} cannot be imported: use quarantine or on_hold (lots are released "
                "in vein2vein with an e-signature)"
            )
        return value

    def expiry(value: str) -> Any:
        try:
            return c.date(value.strip(), "expiry_date")
        except ValidationFailed:
            if not value.strip():
                raise
            raise ValidationFailed(f"not a date ({value.strip()}); use YYYY-MM-DD") from None

    mat = check("part_number", material)
    sup = check("supplier", supplier)
    lot_text = check("supplier_lot", lambda v: c.text(v, "supplier_lot", max_length=80))
    qty = check("quantity", lambda v: c.quantity(v, "quantity"))
    unit = check("unit", lambda v: c.text(v, "unit", max_length=20, required=False))
    day = check("expiry_date", expiry)
    where = check("location", lambda v: c.text(v, "location", max_length=200))
    state = check("status", status)
    if mat is not None and unit and unit != mat.unit:
        errors.append(
            RowError(row, "unit", f"must be {mat.unit} for {mat.part_number}, not {unit}")
        )
    if errors:
        return errors
    return ParsedRow(row, mat, sup, lot_text, qty, unit or mat.unit, day, where, state)


def validate_lots_csv(file: object) -> int:
    """Check every row; raise ImportRejected naming each bad row and field. Returns the
    number of lots the file holds."""
    raw = _binary(file)
    lookup = _Lookup()
    errors: list[RowError] = []
    more = 0
    count = 0
    for row, data in _rows(raw):
        parsed = _parse(row, data, lookup)
        if isinstance(parsed, list):
            if len(errors) < MAX_ERRORS:
                errors.extend(parsed[: MAX_ERRORS - len(errors)])
            else:
                more += len(parsed)
        else:
            count += 1
    if errors:
        raise ImportRejected(errors, more)
    if count == 0:
        raise ValidationFailed("file has a header but no lots", field="file")
    return count


def import_lots(*, actor: User, site_id: int, file: object) -> list[str]:
    """Import every lot of the CSV at the site, or none. Returns the new internal lot ids."""
    site = c.site(site_id)
    require(actor, MatPerm.IMPORT, site)
    validate_lots_csv(file)
    raw = _binary(file)
    lookup = _Lookup()
    created: list[str] = []
    with transaction.atomic():
        for row, data in _rows(raw):
            parsed = _parse(row, data, lookup)
            if isinstance(parsed, list):  # the file changed between the passes
                raise ImportRejected(parsed)
            at = now()
            lot = Lot.objects.create(
                lot_number=c.allocate("LOT", site),
                material=parsed.material,
                supplier=parsed.supplier,
                supplier_lot=parsed.supplier_lot,
                site=site,
                location=parsed.location,
                quantity_received=parsed.quantity,
                on_hand=parsed.quantity,
                unit=parsed.unit,
                expiry_date=parsed.expiry_date,
                status=parsed.status,
                status_before_hold=LotStatus.QUARANTINE
                if parsed.status == LotStatus.ON_HOLD
                else "",
                hold_reason="imported on hold" if parsed.status == LotStatus.ON_HOLD else "",
                packaging_intact=True,
                labels_match=True,
                temperature_ok=True,
                coa_matches=True,
                inspection_remarks=f"migrated by CSV import (row {row})",
                received_by=actor,
                received_at=at,
                imported=True,
            )
            InventoryTransaction.objects.create(
                lot=lot,
                kind=TransactionKind.RECEIPT,
                quantity=parsed.quantity,
                balance_after=parsed.quantity,
                reason=f"imported (CSV row {row})",
                actor=actor,
                occurred_at=at,
            )
            audit.append_event(
                actor=actor,
                action="materials.lot.imported",
                record=lot,
                changes=audit.created(audit.snapshot(lot, Lot.RECORD_FIELDS)),
                reason=f"CSV import, row {row}",
            )
            created.append(lot.lot_number)
    return created


def lots_csv_template() -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(COLUMNS + OPTIONAL)
    return buf.getvalue()
