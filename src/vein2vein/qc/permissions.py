"""Who may do what in QC. Services call `require` (at the batch's site); pages mirror it.

QC analysts draw aliquots, ship samples, enter and review results (never their own: the
service refuses the analyst who entered); supervisors and QA keep the master data (methods,
specifications); a QA approver approves a specification and an invalidation (signed).
"""

from __future__ import annotations

from enum import StrEnum

from vein2vein.core.choices import Role
from vein2vein.core.permissions import ALL_ROLES, register_permissions

MASTER_DATA = frozenset({Role.SUPERVISOR, Role.QA_REVIEWER, Role.QA_APPROVER})
ANALYSTS = frozenset({Role.QC_ANALYST, Role.SUPERVISOR})


class QcPerm(StrEnum):
    VIEW = "qc.view"
    METHOD_MANAGE = "qc.method.manage"
    SPEC_AUTHOR = "qc.spec.author"
    SPEC_APPROVE = "qc.spec.approve"
    SAMPLE_MANAGE = "qc.sample.manage"
    RESULT_ENTER = "qc.result.enter"
    RESULT_REVIEW = "qc.result.review"
    INVALIDATION_APPROVE = "qc.result.invalidation.approve"
    OOS_INVESTIGATE = "qc.oos.investigate"


register_permissions(
    {
        QcPerm.VIEW: ALL_ROLES,
        QcPerm.METHOD_MANAGE: MASTER_DATA,
        QcPerm.SPEC_AUTHOR: MASTER_DATA,
        QcPerm.SPEC_APPROVE: frozenset({Role.QA_APPROVER}),
        QcPerm.SAMPLE_MANAGE: ANALYSTS | {Role.OPERATOR},
        QcPerm.RESULT_ENTER: ANALYSTS,
        QcPerm.RESULT_REVIEW: ANALYSTS,
        QcPerm.INVALIDATION_APPROVE: frozenset({Role.QA_APPROVER}),
        QcPerm.OOS_INVESTIGATE: ANALYSTS | {Role.QA_REVIEWER, Role.QA_APPROVER},
    }
)
