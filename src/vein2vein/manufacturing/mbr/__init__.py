"""The master batch record file format "vein2vein-mbr/1": load, check, normalise and export.

An MBR is authored as a YAML file held in a controlled document, so it is text that people
write and review: this package is the only reader of that text. `load` refuses anything that
could make a batch record ambiguous (unknown keys, duplicate keys, a step that depends on a
later one, a formula naming a value that will not exist yet, limits that do not nest) and
returns a *normalised* definition: the same nested shape as the YAML with every defaulted
field filled in and every decimal quantity as a canonical Decimal string, so it is plain JSON
(no floats) that can be stored, hashed and compared. Fields without a default (`target`,
`alert`, `action`, `range`, a material's `quantity`/`quantity_from`, a timer's
`min_minutes`/`max_minutes`) are present only when given. Pure Python: no Django import, so
the format can be checked by tools and tests without a database.

The package's names are its API (`from vein2vein.manufacturing import mbr`; `mbr.load`, ...);
the modules hold them by concern: `spec` (the format's constants and MbrError), `parsing`
(YAML, JSON Schema, `load`), `checks` (the semantic rules), `definition` (reading a normalised
definition), `formulas`, `limits`, `export` (`dump`). The demo MBR, `cd19-cart-lv.yaml`, is
package data beside them.
"""

from __future__ import annotations

from .definition import References, content_sha256, predecessors, references, step, steps
from .export import dump
from .formulas import evaluate, formula_names
from .limits import limit_flag, out_of_range
from .parsing import load, schema
from .spec import (
    COMMON_FIELDS,
    EQUIPMENT_KINDS,
    FORMAT,
    KIND_FIELDS,
    MAX_BYTES,
    MAX_DIGITS,
    MAX_MAGNITUDE,
    PATIENT_NAMES,
    STEP_KINDS,
    VALUED_KINDS,
    MbrError,
)

__all__ = [
    "COMMON_FIELDS",
    "EQUIPMENT_KINDS",
    "FORMAT",
    "KIND_FIELDS",
    "MAX_BYTES",
    "MAX_DIGITS",
    "MAX_MAGNITUDE",
    "PATIENT_NAMES",
    "STEP_KINDS",
    "VALUED_KINDS",
    "MbrError",
    "References",
    "content_sha256",
    "dump",
    "evaluate",
    "formula_names",
    "limit_flag",
    "load",
    "out_of_range",
    "predecessors",
    "references",
    "schema",
    "step",
    "steps",
]
