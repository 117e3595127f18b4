"""Who may do what in the quality system. Services call `require`; pages only mirror it.

Signature steps also need a role that may sign the step's meaning (core SIGNING_ROLES), and
some steps name their own roles (closing a deviation: QA approver only).
"""

from __future__ import annotations

from enum import StrEnum

from vein2vein.core.choices import Role
from vein2vein.core.permissions import ALL_ROLES, GMP_ROLES, register_permissions

QA = frozenset({Role.QA_REVIEWER, Role.QA_APPROVER})
QUALITY_MANAGERS = frozenset({Role.SUPERVISOR, Role.QA_REVIEWER, Role.QA_APPROVER})


class QPerm(StrEnum):
    VIEW = "quality.view"
    # Anyone doing GMP work may raise a deviation; admin and inspector write nothing.
    DEVIATION_RAISE = "quality.deviation.raise"
    # Classify, investigate, record the root cause, submit, return, cancel.
    DEVIATION_MANAGE = "quality.deviation.manage"
    DEVIATION_EXTEND = "quality.deviation.extend"
    DEVIATION_CLOSE = "quality.deviation.close"
    CAPA_MANAGE = "quality.capa.manage"
    # Owners work their own actions; the service checks ownership.
    CAPA_ACTION_WORK = "quality.capa.action.work"
    CAPA_EFFECTIVENESS = "quality.capa.effectiveness"
    CAPA_CLOSE = "quality.capa.close"
    CHANGE_REQUEST = "quality.change.request"
    CHANGE_MANAGE = "quality.change.manage"
    CHANGE_TASK_WORK = "quality.change.task.work"


register_permissions(
    {
        QPerm.VIEW: ALL_ROLES,
        QPerm.DEVIATION_RAISE: GMP_ROLES,
        QPerm.DEVIATION_MANAGE: QUALITY_MANAGERS,
        QPerm.DEVIATION_EXTEND: QA,
        QPerm.DEVIATION_CLOSE: frozenset({Role.QA_APPROVER}),
        QPerm.CAPA_MANAGE: QUALITY_MANAGERS,
        QPerm.CAPA_ACTION_WORK: GMP_ROLES,
        QPerm.CAPA_EFFECTIVENESS: QA,
        QPerm.CAPA_CLOSE: QA,
        QPerm.CHANGE_REQUEST: GMP_ROLES,
        QPerm.CHANGE_MANAGE: QUALITY_MANAGERS,
        QPerm.CHANGE_TASK_WORK: GMP_ROLES,
    }
)
