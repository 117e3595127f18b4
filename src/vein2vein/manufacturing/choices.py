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
