"""Statuses and kinds of the batch record, with the allowed transitions next to them."""

from __future__ import annotations

from django.db import models


class BatchStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    COMPLETED = "completed", "Completed, awaiting QA review"
    REVIEWED = "reviewed", "QA reviewed, to disposition"
    ABORTED = "aborted", "Aborted"


BATCH_TRANSITIONS: dict[str, frozenset[str]] = {
    BatchStatus.IN_PROGRESS: frozenset(
        {BatchStatus.ON_HOLD, BatchStatus.COMPLETED, BatchStatus.ABORTED}
    ),
    BatchStatus.ON_HOLD: frozenset({BatchStatus.IN_PROGRESS, BatchStatus.ABORTED}),
    BatchStatus.COMPLETED: frozenset(
        {BatchStatus.REVIEWED, BatchStatus.IN_PROGRESS, BatchStatus.ABORTED}
    ),
    BatchStatus.REVIEWED: frozenset(),
    BatchStatus.ABORTED: frozenset(),
}


class BatchAction(models.TextChoices):
    """What a person can do to a batch; which statuses allow it is `BATCH_ACTIONS`."""

    EXECUTE = "execute", "Record a step"
    VERIFY = "verify", "Verify an entry"
    CORRECT = "correct", "Correct an entry"
    HOLD = "hold", "Put on hold"
    RESUME = "resume", "Resume"
    COMPLETE = "complete", "Complete"
    ABORT = "abort", "Abort"
    REVIEW = "review", "QA review"


# The status each action needs (the key) and the status it leads to (None: the status stays).
# Services refuse an action outside this table; the batch page offers exactly what it allows.
BATCH_ACTIONS: dict[str, tuple[frozenset[str], str | None]] = {
    BatchAction.EXECUTE: (frozenset({BatchStatus.IN_PROGRESS}), None),
    BatchAction.VERIFY: (frozenset({BatchStatus.IN_PROGRESS, BatchStatus.ON_HOLD}), None),
    BatchAction.CORRECT: (
        frozenset({BatchStatus.IN_PROGRESS, BatchStatus.ON_HOLD, BatchStatus.COMPLETED}),
        None,
    ),
    BatchAction.HOLD: (frozenset({BatchStatus.IN_PROGRESS}), BatchStatus.ON_HOLD),
    BatchAction.RESUME: (frozenset({BatchStatus.ON_HOLD}), BatchStatus.IN_PROGRESS),
    BatchAction.COMPLETE: (frozenset({BatchStatus.IN_PROGRESS}), BatchStatus.COMPLETED),
    BatchAction.ABORT: (
        frozenset({BatchStatus.IN_PROGRESS, BatchStatus.ON_HOLD, BatchStatus.COMPLETED}),
        BatchStatus.ABORTED,
    ),
    BatchAction.REVIEW: (frozenset({BatchStatus.COMPLETED}), BatchStatus.REVIEWED),
}


def batch_actions(status: str) -> frozenset[str]:
    """The actions a batch in `status` allows (before roles: the page also checks those)."""
    return frozenset(a for a, (where, _) in BATCH_ACTIONS.items() if status in where)


def batch_action_allowed(status: str, action: str) -> bool:
    return status in BATCH_ACTIONS[action][0]


class EntryStatus(models.TextChoices):
    AWAITING_VERIFICATION = "awaiting_verification", "Awaiting verification"
    DONE = "done", "Done"
    SUPERSEDED = "superseded", "Superseded by a correction"


CURRENT = frozenset({EntryStatus.AWAITING_VERIFICATION, EntryStatus.DONE})


class EntryFlag(models.TextChoices):
    ALERT = "alert", "Outside alert limits"
    ACTION = "action", "Outside action limits"
    TIMER = "timer", "Timer limit broken"
    DEVIATION = "deviation", "Deviation raised"


class StepKind(models.TextChoices):
    INSTRUCTION = "instruction", "Instruction"
    NUMERIC = "numeric", "Numeric entry"
    CHOICE = "choice", "Choice"
    TEXT = "text", "Text"
    CALCULATION = "calculation", "Calculation"
    MATERIAL = "material", "Material use"
    EQUIPMENT = "equipment", "Equipment use"
    SAMPLE = "sample", "Sample draw"
    COI_CHECK = "coi_check", "COI check"
    TIMER = "timer", "Timer"
    LABEL = "label", "Label print"
    ATTACHMENT = "attachment", "Attachment"
    SIGNOFF = "signoff", "Sign-off"
