"""Every write on equipment. Later apps call `require_equipment_usable` (and may read
`check_equipment_usable`) before a step uses a unit, and `start_usage`/`end_usage` to log it."""

from .. import permissions as _permissions  # noqa: F401 - registers the equipment permissions
from ..selectors import UsabilityResult, check_equipment_usable
from .interlock import require_equipment_usable
from .qualification import approve_qualification, record_qualification
from .service_records import add_plan, change_interval, record_service
from .units import change_status, entry_gaps, register_equipment, update_equipment
from .usage import end_usage, start_usage, start_usage_within

__all__ = [
    "UsabilityResult",
    "add_plan",
    "approve_qualification",
    "change_interval",
    "change_status",
    "check_equipment_usable",
    "end_usage",
    "entry_gaps",
    "record_qualification",
    "record_service",
    "register_equipment",
    "require_equipment_usable",
    "start_usage",
    "start_usage_within",
    "update_equipment",
]
