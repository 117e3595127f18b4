"""Who may do what with equipment. Services call `require` (at the unit's site); pages mirror it.

Signature steps also need a role that may sign the meaning (core SIGNING_ROLES): a
calibration or maintenance record is signed 'performed'; a qualification record is signed
'approved' by a QA approver only.
"""

from __future__ import annotations

from enum import StrEnum

from vein2vein.core.choices import Role
from vein2vein.core.permissions import ALL_ROLES, register_permissions

MASTER_DATA = frozenset({Role.SUPERVISOR, Role.QA_REVIEWER, Role.QA_APPROVER})


class EqPerm(StrEnum):
    VIEW = "equipment.view"
    # Register units, correct their details, change status, plan calibration and maintenance,
    # record IQ/OQ/PQ results.
    MANAGE = "equipment.manage"
    # Record a calibration or a preventive maintenance (signed 'performed').
    SERVICE = "equipment.service.record"
    # Start and end a usage of a unit by a batch step.
    USE = "equipment.use"
    # Approve an IQ/OQ/PQ record (signed 'approved').
    QUALIFICATION_APPROVE = "equipment.qualification.approve"


register_permissions(
    {
        EqPerm.VIEW: ALL_ROLES,
        EqPerm.MANAGE: MASTER_DATA,
        EqPerm.SERVICE: frozenset({Role.SUPERVISOR, Role.QC_ANALYST}),
        EqPerm.USE: frozenset({Role.OPERATOR, Role.SUPERVISOR}),
        EqPerm.QUALIFICATION_APPROVE: frozenset({Role.QA_APPROVER}),
    }
)
