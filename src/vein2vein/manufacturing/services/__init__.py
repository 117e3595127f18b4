"""Every write of the batch record. Views, the API, commands and the demo call these."""

from .. import permissions as _permissions  # noqa: F401 - registers the manufacturing permissions
from .batches import (
    abort_batch,
    complete_batch,
    hold_batch,
    open_steps,
    resume_batch,
    review_batch,
    start_batch,
)
from .master_records import (
    effective_master_record,
    import_master_record,
    parse_and_check,
    validate_mbr,
)
from .steps import correct_entry, current_entries, record_step, verify_entry

__all__ = [
    "abort_batch",
    "complete_batch",
    "correct_entry",
    "current_entries",
    "effective_master_record",
    "hold_batch",
    "import_master_record",
    "open_steps",
    "parse_and_check",
    "record_step",
    "resume_batch",
    "review_batch",
    "start_batch",
    "validate_mbr",
    "verify_entry",
]
