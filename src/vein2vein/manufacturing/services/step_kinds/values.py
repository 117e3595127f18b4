"""Steps whose entry is a value typed or computed: numeric, calculation, choice, text, and the
instruction (nothing to enter). Their entries are the ones `correct_entry` may correct."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from vein2vein.core.errors import ValidationFailed
from vein2vein.core.services import _validate
from vein2vein.materials.models import Lot
from vein2vein.standards.expressions import FormulaError

from ... import mbr
from ...choices import EntryFlag
from ...models import Batch
from .. import _common as c
from ._shared import Entries, Prepared, Step, StepHandler, StepInput


def _decimal_entry(value: object, step: Step) -> Decimal:
    places = int(step.get("decimals", 2))
    num = _validate.number(value, "value", low="-1e15", high="1e15", places=places, required=True)
    assert num is not None
    out_of_range = mbr.out_of_range(step, num)
    if out_of_range:
        raise ValidationFailed(f"value {num} {step.get('unit', '')}: {out_of_range}", field="value")
    return num


def _limits_text(step: Step) -> str:
    parts = []
    for name in ("alert", "action"):
        limits = step.get(name) or {}
        low, high = limits.get("low"), limits.get("high")
        if low is not None or high is not None:
            parts.append(
                f"{name} {'from ' + str(low) if low is not None else ''}"
                f"{' ' if low is not None and high is not None else ''}"
                f"{'to ' + str(high) if high is not None else ''}"
            )
    return "; ".join(parts)


def _flag_value(prepared: Prepared, step: Step, value: Decimal) -> None:
    flag = mbr.limit_flag(step, value)
    prepared.flag = flag
    prepared.details["limits"] = {
        k: step.get(k) for k in ("target", "alert", "action", "range") if step.get(k) is not None
    }
    if flag == EntryFlag.ACTION:
        prepared.deviation_text = (
            f"{step['title']}: {value} {step.get('unit', '')} is outside the action limits "
            f"({_limits_text(step)})"
        )


def _values(b: Batch, step: Step, entries: Entries) -> dict[str, Decimal]:
    """The names a calculation's formula uses, from earlier entries, parameters and patient."""
    definition = b.master_record.definition
    values: dict[str, Decimal] = {}
    for name in mbr.formula_names(step):
        if name.startswith("param."):
            values[name] = Decimal(definition["parameters"][name[6:]]["value"])
        elif name == "patient.weight_kg":
            if b.order is None:
                raise ValidationFailed(
                    "this calculation needs the patient's weight; the batch has no order",
                    field="step_key",
                )
            values[name] = Decimal(b.order.patient.weight_kg)
        elif "." in name:
            key, attribute = name.split(".", 1)
            source = entries.get(key)
            lot_id = source.details.get("lot_id") if source is not None else None
            lot = Lot.objects.filter(pk=lot_id).first() if lot_id else None
            raw = (lot.attributes or {}).get(attribute) if lot is not None else None
            try:
                values[name] = Decimal(str(raw).strip())
                if not values[name].is_finite():
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                raise ValidationFailed(
                    f"{name}: the lot scanned at step {key!r} has no numeric {attribute!r}",
                    field="step_key",
                ) from None
        else:
            source = entries.get(name)
            if source is None or source.value_number is None:
                raise ValidationFailed(f"{name} has no value yet", field="step_key")
            values[name] = Decimal(source.value_number)
    return values


class InstructionStep(StepHandler):
    """Read and done: nothing to enter."""


class NumericStep(StepHandler):
    """A measured number: refused outside `range` as a typo, flagged against alert and action."""

    correctable = True

    def prepare(self, s: StepInput) -> Prepared:
        num = _decimal_entry(s.value, s.step)
        p = Prepared(value_number=num, unit=s.step["unit"])
        _flag_value(p, s.step, num)
        return p


class CalculationStep(StepHandler):
    """A number the formula computes from parameters, the patient, earlier entries and lots."""

    correctable = True

    def prepare(self, s: StepInput) -> Prepared:
        step = s.step
        inputs = _values(s.batch, step, s.entries)
        try:
            num = mbr.evaluate(step, inputs)
        except FormulaError as exc:
            raise ValidationFailed(f"{step['key']}: {exc}", field="step_key") from None
        p = Prepared(value_number=num, unit=step["unit"])
        p.details["formula"] = step["formula"]
        p.details["inputs"] = {k: str(v) for k, v in sorted(inputs.items())}
        _flag_value(p, step, num)
        return p


class ChoiceStep(StepHandler):
    """One of the options; one outside `in_spec` is an action flag."""

    correctable = True

    def prepare(self, s: StepInput) -> Prepared:
        step = s.step
        picked = c.text(s.value, "value", max_length=200)
        if picked not in step["options"]:
            raise ValidationFailed(
                f"value must be one of: {', '.join(step['options'])}", field="value"
            )
        p = Prepared(value_text=picked)
        in_spec = step.get("in_spec")
        if in_spec and picked not in in_spec:
            p.flag = EntryFlag.ACTION
            p.deviation_text = (
                f"{step['title']}: {picked!r} is out of specification (expected "
                f"{', '.join(in_spec)})"
            )
        return p


class TextStep(StepHandler):
    """Free text up to the step's `max_length`."""

    correctable = True

    def prepare(self, s: StepInput) -> Prepared:
        return Prepared(
            value_text=c.text(s.value, "value", max_length=int(s.step.get("max_length", 2000)))
        )
