"""Every write of QC. Views, the API, commands and the demo call these."""

from .. import permissions as _permissions  # noqa: F401 - registers the qc permissions
from .imports import counter_readings, import_counter_results, import_flow_result
from .master_data import (
    add_method_version,
    approve_specification,
    create_method,
    create_specification,
    current_version,
)
from .results import (
    approve_invalidation,
    conclude_phase_i,
    conclude_phase_ii,
    enter_result,
    open_oos,
    request_invalidation,
    review_result,
)
from .samples import make_aliquot, move_sample, receive_sample, register_sample, ship_sample

__all__ = [
    "add_method_version",
    "approve_invalidation",
    "approve_specification",
    "conclude_phase_i",
    "conclude_phase_ii",
    "counter_readings",
    "create_method",
    "create_specification",
    "current_version",
    "enter_result",
    "import_counter_results",
    "import_flow_result",
    "make_aliquot",
    "move_sample",
    "open_oos",
    "receive_sample",
    "register_sample",
    "request_invalidation",
    "review_result",
    "ship_sample",
]
