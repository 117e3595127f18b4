"""Who may do what in training. Imported by the services, so the map is complete when used."""

from __future__ import annotations

from enum import StrEnum

from vein2vein.core.choices import Role
from vein2vein.core.permissions import ALL_ROLES, register_permissions


class TrainingPerm(StrEnum):
    # Everyone reads their own training; the overview of others is for those who oversee it.
    VIEW_OWN = "training.own.view"
    OVERSEE = "training.overview.view"
    # Curricula and qualification types: supervisors and QA, through services with audit.
    MANAGE = "training.curriculum.manage"
    # Granting and revoking qualifications: supervisors (with an e-signature for a grant).
    QUALIFY = "training.qualification.grant"
    # Re-run the assignment of curriculum documents (after role grants or curriculum changes).
    SYNC = "training.assignment.sync"


MANAGERS = frozenset({Role.SUPERVISOR, Role.QA_REVIEWER, Role.QA_APPROVER})

register_permissions(
    {
        TrainingPerm.VIEW_OWN: ALL_ROLES,
        TrainingPerm.OVERSEE: MANAGERS | {Role.INSPECTOR},
        TrainingPerm.MANAGE: MANAGERS,
        TrainingPerm.QUALIFY: frozenset({Role.SUPERVISOR}),
        TrainingPerm.SYNC: MANAGERS,
    }
)
