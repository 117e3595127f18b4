"""Who may do what with batch records. Imported by the services, so the map is complete
when used.

Operators execute steps; a verifier (or supervisor, or QC analyst for QC steps) verifies as
the second person, never the performer; supervisors hold and resume; QA reviews the executed
record by exception and signs; only a QA approver aborts a batch. Master records are authored
by supervisors and QA and approved through the documents app's signed workflow.
"""

from __future__ import annotations

from enum import StrEnum

from vein2vein.core.choices import Role
from vein2vein.core.permissions import ALL_ROLES, register_permissions


class MfgPerm(StrEnum):
    VIEW = "manufacturing.view"
    MBR_AUTHOR = "manufacturing.mbr.author"
    BATCH_START = "manufacturing.batch.start"
    STEP_EXECUTE = "manufacturing.step.execute"
    STEP_VERIFY = "manufacturing.step.verify"
    STEP_CORRECT = "manufacturing.step.correct"
    BATCH_HOLD = "manufacturing.batch.hold"
    BATCH_ABORT = "manufacturing.batch.abort"
    BATCH_REVIEW = "manufacturing.batch.review"


EXECUTORS = frozenset({Role.OPERATOR, Role.SUPERVISOR})
VERIFIERS = frozenset({Role.VERIFIER, Role.SUPERVISOR, Role.OPERATOR, Role.QC_ANALYST})
REVIEWERS = frozenset({Role.QA_REVIEWER, Role.QA_APPROVER})

register_permissions(
    {
        MfgPerm.VIEW: ALL_ROLES,
        MfgPerm.MBR_AUTHOR: frozenset({Role.SUPERVISOR, Role.QA_REVIEWER, Role.QA_APPROVER}),
        MfgPerm.BATCH_START: EXECUTORS,
        MfgPerm.STEP_EXECUTE: EXECUTORS,
        # A second operator may verify; the service refuses the performer.
        MfgPerm.STEP_VERIFY: VERIFIERS,
        MfgPerm.STEP_CORRECT: EXECUTORS,
        MfgPerm.BATCH_HOLD: frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.QA_APPROVER}),
        MfgPerm.BATCH_ABORT: frozenset({Role.QA_APPROVER}),
        MfgPerm.BATCH_REVIEW: REVIEWERS,
    }
)
