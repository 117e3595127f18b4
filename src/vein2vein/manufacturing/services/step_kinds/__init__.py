"""One handler for each kind of step (`StepKind`); `record_step` dispatches to them.
Private to manufacturing.services."""

from __future__ import annotations

from ...choices import StepKind
from ._shared import ACTION, Attempt, Entries, Prepared, Step, StepHandler, StepInput
from .attachment import AttachmentStep
from .equipment import EquipmentStep
from .identity import CoiCheckStep
from .label import LabelStep
from .material import MaterialStep
from .sample import SampleStep
from .signoff import SignoffStep
from .timer import TimerStep
from .values import CalculationStep, ChoiceStep, InstructionStep, NumericStep, TextStep

HANDLERS: dict[str, StepHandler] = {
    StepKind.INSTRUCTION: InstructionStep(),
    StepKind.NUMERIC: NumericStep(),
    StepKind.CHOICE: ChoiceStep(),
    StepKind.TEXT: TextStep(),
    StepKind.CALCULATION: CalculationStep(),
    StepKind.MATERIAL: MaterialStep(),
    StepKind.EQUIPMENT: EquipmentStep(),
    StepKind.SAMPLE: SampleStep(),
    StepKind.COI_CHECK: CoiCheckStep(),
    StepKind.TIMER: TimerStep(),
    StepKind.LABEL: LabelStep(),
    StepKind.ATTACHMENT: AttachmentStep(),
    StepKind.SIGNOFF: SignoffStep(),
}
if set(HANDLERS) != set(StepKind):
    raise ImportError(f"step kinds without a handler: {sorted(set(StepKind) - set(HANDLERS))}")

__all__ = [
    "ACTION",
    "HANDLERS",
    "Attempt",
    "Entries",
    "Prepared",
    "Step",
    "StepHandler",
    "StepInput",
]
