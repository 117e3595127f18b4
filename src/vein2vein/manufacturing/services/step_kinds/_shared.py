"""What every step kind's handler shares: the prepared entry, the handler's phases and the
audit action of a step. Private to manufacturing.services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.files import File
from django.http import HttpRequest

from vein2vein.core.models import User
from vein2vein.core.services import PasswordProof
from vein2vein.equipment.models import Equipment
from vein2vein.materials.models import Lot

from ...models import Batch, StepEntry
from .. import _common as c

ACTION = "manufacturing.step.execute"

Step = dict[str, Any]
"""One step of the MBR, as `mbr.step` returns it."""

Entries = dict[str, StepEntry]
"""The current entry of each recorded step, by step key."""


@dataclass
class Prepared:
    """What a step's entry will hold, worked out (and interlock-checked) before the lock."""

    value_text: str = ""
    value_number: Decimal | None = None
    unit: str = ""
    flag: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    lot: Lot | None = None
    quantity: Decimal | None = None
    equipment: Equipment | None = None
    file: File | None = None  # type: ignore[type-arg]
    file_sha256: str = ""
    deviation_text: str = ""
    proof: PasswordProof | None = None  # a sign-off's checked password


@dataclass(frozen=True, kw_only=True)
class StepInput:
    """What a step's entry is prepared from: the batch as read before the step's transaction,
    the step, the current entries, and what the caller sent."""

    batch: Batch
    step: Step
    entries: Entries
    value: object = None
    scan: object = None
    file: object = None


@dataclass(frozen=True, kw_only=True)
class Attempt(StepInput):
    """One call of `record_step`: the input, who records it, when it was done and why."""

    actor: User
    at: dt.datetime
    comment: str = ""
    password: str | None = None
    request: HttpRequest | None = None


class StepHandler:
    """How one kind of step is recorded. `record_step` calls, in this order: `prepare` (the
    input, no writes), `check` (interlocks that record their own refusal, before the step's
    transaction), then inside the transaction with the batch locked (`b`) `before_entry`,
    `after_entry` (before the entry's audit event) and `after_event`; `blocked` when an
    interlock refused inside the transaction, once it has rolled back. Each phase does nothing
    unless the kind needs it. `correct_entry` calls `prepare` alone, for `correctable` kinds."""

    correctable = False

    def prepare(self, s: StepInput) -> Prepared:
        return Prepared()

    def check(self, a: Attempt, p: Prepared) -> None:
        pass

    def before_entry(self, a: Attempt, b: Batch, p: Prepared) -> None:
        pass

    def after_entry(self, a: Attempt, b: Batch, p: Prepared, entry: StepEntry) -> None:
        pass

    def after_event(self, a: Attempt, p: Prepared, entry: StepEntry) -> None:
        pass

    def blocked(self, a: Attempt, p: Prepared) -> None:
        pass


def scanned(value: object) -> str:
    """What the scanner typed, without surrounding blanks."""
    return c.text(value, "scan", max_length=300).strip()
