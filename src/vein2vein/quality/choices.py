"""Kinds and statuses of quality records, with the transitions each status allows.

The services move a record only along these maps, so the lifecycle is readable here in one
place. Due-date rules are configuration: defaults here, overridable in Django settings.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.db import models

from vein2vein.core.choices import Role


# --- deviations -----------------------------------------------------------------------------
class DeviationStatus(models.TextChoices):
    OPEN = "open", "Open"
    UNDER_INVESTIGATION = "under_investigation", "Under investigation"
    PENDING_QA_APPROVAL = "pending_qa_approval", "Pending QA approval"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


DEVIATION_TRANSITIONS: dict[str, frozenset[str]] = {
    DeviationStatus.OPEN: frozenset(
        {DeviationStatus.UNDER_INVESTIGATION, DeviationStatus.CANCELLED}
    ),
    DeviationStatus.UNDER_INVESTIGATION: frozenset(
        {DeviationStatus.PENDING_QA_APPROVAL, DeviationStatus.CANCELLED}
    ),
    # QA either closes it, or sends it back to the investigator with a reason.
    DeviationStatus.PENDING_QA_APPROVAL: frozenset(
        {DeviationStatus.CLOSED, DeviationStatus.UNDER_INVESTIGATION}
    ),
    DeviationStatus.CLOSED: frozenset(),
    DeviationStatus.CANCELLED: frozenset(),
}
DEVIATION_ACTIVE = frozenset(
    {
        DeviationStatus.OPEN,
        DeviationStatus.UNDER_INVESTIGATION,
        DeviationStatus.PENDING_QA_APPROVAL,
    }
)


class DeviationCategory(models.TextChoices):
    PROCESS = "process", "Process"
    EQUIPMENT = "equipment", "Equipment"
    MATERIAL = "material", "Material"
    ENVIRONMENTAL = "environmental", "Environmental"
    DOCUMENTATION = "documentation", "Documentation"
    IDENTITY = "identity", "Identity / chain of custody"
    TEMPERATURE = "temperature", "Temperature excursion"
    OOS = "oos", "Out of specification"
    OTHER = "other", "Other"


class Classification(models.TextChoices):
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"


class RootCauseMethod(models.TextChoices):
    FIVE_WHYS = "five_whys", "5 whys"
    ISHIKAWA = "ishikawa", "Ishikawa (6M)"


class IshikawaCategory(models.TextChoices):
    """The 6M of a fishbone diagram."""

    MAN = "man", "Man (people)"
    MACHINE = "machine", "Machine"
    METHOD = "method", "Method"
    MATERIAL = "material", "Material"
    MEASUREMENT = "measurement", "Measurement"
    ENVIRONMENT = "environment", "Mother nature (environment)"


class RootCauseCategory(models.TextChoices):
    HUMAN_ERROR = "human_error", "Human error"
    PROCEDURE = "procedure", "Procedure / documentation"
    EQUIPMENT = "equipment", "Equipment"
    MATERIAL = "material", "Material / supplier"
    ENVIRONMENT = "environment", "Environment / facility"
    TRAINING = "training", "Training"
    DESIGN = "design", "Process or product design"
    SYSTEM = "system", "Computerised system"
    UNDETERMINED = "undetermined", "Undetermined"


MAX_WHYS = 5

# Days from the day a deviation is raised (in its site's zone) to its due date.
DEFAULT_DUE_DAYS = 30
DEFAULT_DUE_DAYS_BY_CLASSIFICATION: Mapping[str, int] = {
    Classification.MINOR: 30,
    Classification.MAJOR: 30,
    Classification.CRITICAL: 30,
}


def due_days(classification: str) -> int:
    """Days allowed for `classification` ('' = not classified yet).

    Sites override with `QUALITY_DEVIATION_DUE_DAYS = {"critical": 15, ...}` and
    `QUALITY_DEVIATION_DEFAULT_DUE_DAYS` in settings; unnamed classes keep the default.
    """
    if not classification:
        return int(getattr(settings, "QUALITY_DEVIATION_DEFAULT_DUE_DAYS", DEFAULT_DUE_DAYS))
    configured = getattr(settings, "QUALITY_DEVIATION_DUE_DAYS", {}) or {}
    return int(configured.get(classification, DEFAULT_DUE_DAYS_BY_CLASSIFICATION[classification]))


# --- CAPA -----------------------------------------------------------------------------------
class CapaStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


CAPA_TRANSITIONS: dict[str, frozenset[str]] = {
    CapaStatus.OPEN: frozenset({CapaStatus.CLOSED, CapaStatus.CANCELLED}),
    CapaStatus.CLOSED: frozenset(),
    CapaStatus.CANCELLED: frozenset(),
}


class ActionKind(models.TextChoices):
    CORRECTIVE = "corrective", "Corrective"
    PREVENTIVE = "preventive", "Preventive"


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


ACTION_TRANSITIONS: dict[str, frozenset[str]] = {
    ActionStatus.OPEN: frozenset(
        {ActionStatus.IN_PROGRESS, ActionStatus.DONE, ActionStatus.CANCELLED}
    ),
    ActionStatus.IN_PROGRESS: frozenset({ActionStatus.DONE, ActionStatus.CANCELLED}),
    ActionStatus.DONE: frozenset(),
    ActionStatus.CANCELLED: frozenset(),
}
ACTION_FINISHED = frozenset({ActionStatus.DONE, ActionStatus.CANCELLED})


class CheckResult(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"


# --- change control -------------------------------------------------------------------------
class ChangeStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted for approval"
    APPROVED = "approved", "Approved"
    IMPLEMENTING = "implementing", "Implementing"
    CLOSED = "closed", "Closed"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


CHANGE_TRANSITIONS: dict[str, frozenset[str]] = {
    ChangeStatus.DRAFT: frozenset({ChangeStatus.SUBMITTED, ChangeStatus.CANCELLED}),
    ChangeStatus.SUBMITTED: frozenset(
        {ChangeStatus.APPROVED, ChangeStatus.REJECTED, ChangeStatus.CANCELLED}
    ),
    ChangeStatus.APPROVED: frozenset({ChangeStatus.IMPLEMENTING, ChangeStatus.CANCELLED}),
    ChangeStatus.IMPLEMENTING: frozenset({ChangeStatus.CLOSED, ChangeStatus.CANCELLED}),
    ChangeStatus.CLOSED: frozenset(),
    ChangeStatus.REJECTED: frozenset(),
    ChangeStatus.CANCELLED: frozenset(),
}
CHANGE_ACTIVE = frozenset(
    {
        ChangeStatus.DRAFT,
        ChangeStatus.SUBMITTED,
        ChangeStatus.APPROVED,
        ChangeStatus.IMPLEMENTING,
    }
)


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    TaskStatus.OPEN: frozenset({TaskStatus.DONE, TaskStatus.CANCELLED}),
    TaskStatus.DONE: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}

# What a change request lists as affected (free-text entries per kind).
AFFECTED_KINDS = ("documents", "equipment", "processes", "products")

DEFAULT_CHANGE_APPROVER_ROLES: tuple[str, ...] = (Role.QA_APPROVER, Role.SUPERVISOR)


def change_approver_roles() -> tuple[str, ...]:
    """Roles whose approval a change needs; `QUALITY_CHANGE_APPROVER_ROLES` in settings
    overrides the default. Each must be a role that may sign 'approved'."""
    roles = (
        getattr(settings, "QUALITY_CHANGE_APPROVER_ROLES", None) or DEFAULT_CHANGE_APPROVER_ROLES
    )
    return tuple(str(Role(r)) for r in roles)


def allowed(transitions: Mapping[str, frozenset[str]], current: str, target: str) -> bool:
    return target in transitions.get(current, frozenset())
