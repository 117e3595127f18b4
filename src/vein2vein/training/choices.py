"""Kinds and statuses of training records, with the allowed transitions next to them."""

from __future__ import annotations

from django.db import models

from vein2vein.core.choices import Role


class QualificationKind(models.TextChoices):
    ASEPTIC = "aseptic", "Aseptic technique"
    PROCESS_STEP = "process_step", "Process step"
    INSTRUMENT = "instrument", "Instrument"
    OTHER = "other", "Other"


class AssignmentStatus(models.TextChoices):
    """A read-and-understood assignment for one document version."""

    ASSIGNED = "assigned", "To read"
    AWAITING_TRAINER = "awaiting_trainer", "Awaiting trainer sign-off"
    COMPLETED = "completed", "Completed"
    SUPERSEDED = "superseded", "Superseded by a newer version"


ASSIGNMENT_TRANSITIONS: dict[AssignmentStatus, frozenset[AssignmentStatus]] = {
    # The trainee signs: completed, or (trainer-led) awaiting the trainer's signature.
    AssignmentStatus.ASSIGNED: frozenset(
        {
            AssignmentStatus.AWAITING_TRAINER,
            AssignmentStatus.COMPLETED,
            AssignmentStatus.SUPERSEDED,
        }
    ),
    AssignmentStatus.AWAITING_TRAINER: frozenset(
        {AssignmentStatus.COMPLETED, AssignmentStatus.SUPERSEDED}
    ),
    # A completed record stays as it is: it says which version was read, and when.
    AssignmentStatus.COMPLETED: frozenset(),
    AssignmentStatus.SUPERSEDED: frozenset(),
}

OPEN_ASSIGNMENT_STATUSES = frozenset({AssignmentStatus.ASSIGNED, AssignmentStatus.AWAITING_TRAINER})


class QualificationStatus(models.TextChoices):
    """Stored state. Expiry is not a stored state: it is computed at the moment of the check."""

    ACTIVE = "active", "Active"
    SUPERSEDED = "superseded", "Superseded by a later grant"
    REVOKED = "revoked", "Revoked"


QUALIFICATION_TRANSITIONS: dict[QualificationStatus, frozenset[QualificationStatus]] = {
    QualificationStatus.ACTIVE: frozenset(
        {QualificationStatus.SUPERSEDED, QualificationStatus.REVOKED}
    ),
    QualificationStatus.SUPERSEDED: frozenset(),
    QualificationStatus.REVOKED: frozenset(),
}

# Who may sign off a trainer-led item as the trainer.
TRAINER_ROLES = frozenset({Role.SUPERVISOR, Role.QA_REVIEWER, Role.QA_APPROVER})

# Days a trainee has to read a newly effective version, unless the curriculum item says
# otherwise (VEIN2VEIN_TRAINING_DUE_DAYS overrides this default for the installation).
DEFAULT_DUE_DAYS = 14
MAX_DUE_DAYS = 365
MAX_VALIDITY_MONTHS = 120
