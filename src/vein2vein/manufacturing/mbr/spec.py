"""What the vein2vein-mbr/1 format is: its name, size limit, step and equipment kinds, the
fields each kind adds, the defaults, the bounds on numbers, and the error every check raises."""

from __future__ import annotations

import re

from vein2vein.standards import expressions

FORMAT = "vein2vein-mbr/1"
MAX_BYTES = 1_000_000
"""Largest file accepted: a real MBR is a few tens of kilobytes."""

STEP_KINDS: tuple[str, ...] = (
    "instruction",
    "numeric",
    "choice",
    "text",
    "calculation",
    "material",
    "equipment",
    "sample",
    "coi_check",
    "timer",
    "label",
    "attachment",
    "signoff",
)

EQUIPMENT_KINDS: tuple[str, ...] = (
    "biosafety_cabinet",
    "incubator",
    "centrifuge",
    "closed_system",
    "cell_counter",
    "flow_cytometer",
    "controlled_rate_freezer",
    "ln2_freezer",
    "cell_washer",
    "tube_sealer",
    "isolator",
)

KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "instruction": (),
    "numeric": ("unit", "decimals", "target", "alert", "action", "range"),
    "choice": ("options", "in_spec"),
    "text": ("max_length",),
    "calculation": ("formula", "unit", "decimals", "alert", "action"),
    "material": ("part", "quantity", "quantity_from", "unit"),
    "equipment": ("equipment_kind",),
    "sample": ("sample_type", "tests", "quantity", "unit"),
    "coi_check": (),
    "timer": ("from_step", "min_minutes", "max_minutes"),
    "label": ("label_kind", "copies"),
    "attachment": (),
    "signoff": (),
}
"""Fields each kind adds to the common ones, in export order."""

COMMON_FIELDS: tuple[str, ...] = (
    "key",
    "kind",
    "title",
    "instruction",
    "after",
    "requires",
    "verify",
)

PATIENT_NAMES = frozenset({"patient.weight_kg"})
"""Patient values a formula may use; the batch supplies them from the order."""

VALUED_KINDS = frozenset({"numeric", "calculation"})
"""Kinds whose entry is a number a formula may use."""

MAX_MAGNITUDE = 30
"""Largest |exponent| of a number in the file (1e-30 .. 1e30): beyond is a typo."""

MAX_DIGITS = expressions.PRECISION
"""Most significant digits of a number in the file: what a formula can carry exactly."""

MAX_NESTING = 32
DEFAULTS = {"decimals": 2, "max_length": 2000, "copies": 1}
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A decimal number as the file may write it."""


class MbrError(ValueError):
    """An MBR file that cannot be accepted; `path` points into the YAML
    ("operations[2].steps[0].action.low", "" for the file as a whole)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def finite(value: float) -> bool:
    return value - value == 0
