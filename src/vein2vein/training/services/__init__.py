"""Training services: the only writers of curricula, assignments and qualifications."""

from ..selectors import QualificationResult, is_qualified
from .assignments import (
    assign_document,
    assign_version,
    sign_assignment,
    sign_off_assignment,
    sync_assignments,
)
from .curricula import (
    add_curriculum_document,
    add_curriculum_qualification,
    create_curriculum,
    create_qualification_type,
    remove_curriculum_item,
    update_curriculum,
    update_qualification_type,
)
from .interlock import require_qualified
from .qualifications import grant_qualification, revoke_qualification

__all__ = [
    "QualificationResult",
    "add_curriculum_document",
    "add_curriculum_qualification",
    "assign_document",
    "assign_version",
    "create_curriculum",
    "create_qualification_type",
    "grant_qualification",
    "is_qualified",
    "remove_curriculum_item",
    "require_qualified",
    "revoke_qualification",
    "sign_assignment",
    "sign_off_assignment",
    "sync_assignments",
    "update_curriculum",
    "update_qualification_type",
]
