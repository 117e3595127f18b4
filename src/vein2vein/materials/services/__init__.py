"""Every write of the materials app. Views, the API, commands and other apps call these."""

from ..selectors import Usability, check_kit_usable, check_material_usable
from .imports import ImportRejected, RowError, import_lots, lots_csv_template, validate_lots_csv
from .interlock import require_material_usable
from .inventory import adjust_lot, assemble_kit, consume_lot
from .lots import hold_lot, receive_lot, reject_lot, release_blockers, release_hold, release_lot
from .master import (
    approve_supplier_for_material,
    create_material,
    create_supplier,
    remove_supplier_from_material,
    set_supplier_status,
    update_material,
    update_supplier,
)

__all__ = [
    "ImportRejected",
    "RowError",
    "Usability",
    "adjust_lot",
    "approve_supplier_for_material",
    "assemble_kit",
    "check_kit_usable",
    "check_material_usable",
    "consume_lot",
    "create_material",
    "create_supplier",
    "hold_lot",
    "import_lots",
    "lots_csv_template",
    "receive_lot",
    "reject_lot",
    "release_blockers",
    "release_hold",
    "release_lot",
    "remove_supplier_from_material",
    "require_material_usable",
    "set_supplier_status",
    "update_material",
    "update_supplier",
    "validate_lots_csv",
]
