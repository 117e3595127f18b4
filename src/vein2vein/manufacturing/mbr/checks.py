"""The rules a schema cannot state, applied in file order while building the normalised
definition: unique keys, `after` naming earlier steps, formula names, limits that nest,
`in_spec` within the options, timer and `quantity_from` predecessors, and every number in its
canonical text. Each refusal names the path of the offending field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from vein2vein.standards.expressions import FormulaError

from .formulas import parse
from .spec import (
    DEFAULTS,
    FORMAT,
    MAX_DIGITS,
    MAX_MAGNITUDE,
    NUMBER,
    PATIENT_NAMES,
    VALUED_KINDS,
    MbrError,
    finite,
)


def _number(value: Any, path: str) -> str:
    """The canonical text of a number: plain notation, no exponent, no trailing zeros."""
    if isinstance(value, bool):
        raise MbrError(path, f"{value} is not a number")
    try:
        if isinstance(value, float):
            if not finite(value):
                raise MbrError(path, f"{value} is not a finite number")
            number = Decimal(str(value))
        elif isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, str) and NUMBER.fullmatch(value.strip()):
            number = Decimal(value.strip())
        else:
            raise MbrError(path, f"{value!r} is not a number")
    except InvalidOperation:
        raise MbrError(path, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise MbrError(path, f"{value} is not a finite number")
    if number.is_zero():
        return "0"
    if abs(number.adjusted()) > MAX_MAGNITUDE:
        raise MbrError(
            path, f"{value} is out of range (1e-{MAX_MAGNITUDE} to 1e{MAX_MAGNITUDE} in size)"
        )
    reduced = number.normalize(Context(prec=2 * MAX_MAGNITUDE + MAX_DIGITS))
    if len(reduced.as_tuple().digits) > MAX_DIGITS:
        raise MbrError(path, f"{value} has more than {MAX_DIGITS} significant digits")
    return format(reduced, "f")


class Checker:
    """The rules a schema cannot state, applied in file order while building the normalised
    definition; each refusal names the path of the offending field."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.parameters: dict[str, dict[str, Any]] = {}
        self.known: dict[str, dict[str, Any]] = {}
        self.where: dict[str, str] = {}
        self.preds: dict[str, frozenset[str]] = {}
        self.all_keys = {
            step["key"] for operation in raw["operations"] for step in operation["steps"]
        }

    def run(self) -> dict[str, Any]:
        raw = self.raw
        for name, parameter in raw.get("parameters", {}).items():
            self.parameters[name] = {
                "value": _number(parameter["value"], f"parameters.{name}.value"),
                "unit": parameter.get("unit", ""),
                "description": parameter.get("description", ""),
            }
        operations: list[dict[str, Any]] = []
        operation_keys: dict[str, int] = {}
        previous: str | None = None
        for op_index, operation in enumerate(raw["operations"]):
            op_path = f"operations[{op_index}]"
            if operation["key"] in operation_keys:
                raise MbrError(
                    f"{op_path}.key",
                    f"duplicate operation key {operation['key']!r} "
                    f"(also operations[{operation_keys[operation['key']]}])",
                )
            operation_keys[operation["key"]] = op_index
            normalised_steps = []
            for step_index, raw_step in enumerate(operation["steps"]):
                path = f"{op_path}.steps[{step_index}]"
                normalised = self.step(raw_step, path, previous)
                normalised_steps.append(normalised)
                previous = normalised["key"]
            operations.append(
                {"key": operation["key"], "title": operation["title"], "steps": normalised_steps}
            )
        return {
            "schema": FORMAT,
            "product": raw["product"],
            "process_version": raw["process_version"],
            "title": raw["title"],
            "description": raw.get("description", ""),
            "parameters": self.parameters,
            "operations": operations,
        }

    def _earlier(self, name: str, path: str, this: str) -> None:
        if name == this:
            raise MbrError(path, f"{name!r} is this step itself")
        if name in self.all_keys and name not in self.known:
            raise MbrError(path, f"{name!r} is a later step; only earlier steps can come before")
        if name not in self.known:
            raise MbrError(path, f"unknown step {name!r}")

    def _predecessor(self, name: str, path: str, this: str, preds: frozenset[str]) -> None:
        self._earlier(name, path, this)
        if name not in preds:
            raise MbrError(
                path,
                f"step {name!r} is not a predecessor of {this!r}: add it (or a step after it) "
                "to `after`",
            )

    def step(self, raw: dict[str, Any], path: str, previous: str | None) -> dict[str, Any]:
        key: str = raw["key"]
        kind: str = raw["kind"]
        if key in self.known:
            raise MbrError(f"{path}.key", f"duplicate step key {key!r} (also {self.where[key]})")
        if "after" in raw:
            after = list(raw["after"])
            for index, name in enumerate(after):
                self._earlier(name, f"{path}.after[{index}]", key)
        else:
            after = [previous] if previous is not None else []
        preds = frozenset(after).union(*(self.preds[name] for name in after))
        step: dict[str, Any] = {
            "key": key,
            "kind": kind,
            "title": raw["title"],
            "instruction": raw.get("instruction", ""),
            "after": after,
            "requires": list(raw.get("requires", [])),
            "verify": raw.get("verify", kind == "signoff"),
        }
        getattr(self, f"_{kind}")(raw, step, path, preds)
        self.known[key] = step
        self.where[key] = path
        self.preds[key] = preds
        return step

    # kind-specific fields, in KIND_FIELDS order

    def _instruction(self, raw: dict[str, Any], step: dict[str, Any], path: str, _: Any) -> None:
        pass

    _coi_check = _attachment = _signoff = _instruction

    def _numeric(self, raw: dict[str, Any], step: dict[str, Any], path: str, _: Any) -> None:
        step["unit"] = raw["unit"]
        step["decimals"] = raw.get("decimals", DEFAULTS["decimals"])
        if "target" in raw:
            step["target"] = _number(raw["target"], f"{path}.target")
        for name in ("alert", "action", "range"):
            if name in raw:
                step[name] = _limits(raw[name], f"{path}.{name}")
        _check_nesting(step, path)

    def _calculation(
        self, raw: dict[str, Any], step: dict[str, Any], path: str, preds: frozenset[str]
    ) -> None:
        step["formula"] = raw["formula"]
        self._check_formula(raw["formula"], f"{path}.formula", step["key"], preds)
        step["unit"] = raw["unit"]
        step["decimals"] = raw.get("decimals", DEFAULTS["decimals"])
        for name in ("alert", "action"):
            if name in raw:
                step[name] = _limits(raw[name], f"{path}.{name}")
        _check_nesting(step, path)

    def _choice(self, raw: dict[str, Any], step: dict[str, Any], path: str, _: Any) -> None:
        step["options"] = list(raw["options"])
        in_spec = list(raw.get("in_spec", raw["options"]))
        for index, option in enumerate(in_spec):
            if option not in step["options"]:
                raise MbrError(f"{path}.in_spec[{index}]", f"{option!r} is not one of the options")
        step["in_spec"] = in_spec

    def _text(self, raw: dict[str, Any], step: dict[str, Any], path: str, _: Any) -> None:
        step["max_length"] = raw.get("max_length", DEFAULTS["max_length"])

    def _material(
        self, raw: dict[str, Any], step: dict[str, Any], path: str, preds: frozenset[str]
    ) -> None:
        step["part"] = raw["part"]
        if "quantity" in raw and "quantity_from" in raw:
            raise MbrError(path, "give exactly one of quantity or quantity_from")
        if "quantity" in raw:
            step["quantity"] = _positive(raw["quantity"], f"{path}.quantity")
        else:
            source = raw["quantity_from"]
            self._predecessor(source, f"{path}.quantity_from", step["key"], preds)
            if self.known[source]["kind"] != "calculation":
                raise MbrError(
                    f"{path}.quantity_from",
                    f"step {source!r} is a {self.known[source]['kind']} step, not a calculation",
                )
            step["quantity_from"] = source
        step["unit"] = raw.get("unit", "")

    def _equipment(self, raw: dict[str, Any], step: dict[str, Any], path: str, _: Any) -> None:
        step["equipment_kind"] = raw["equipment_kind"]

    def _sample(self, raw: dict[str, Any], step: dict[str, Any], path: str, _: Any) -> None:
        step["sample_type"] = raw["sample_type"]
        step["tests"] = list(raw["tests"])
        step["quantity"] = _positive(raw["quantity"], f"{path}.quantity")
        step["unit"] = raw["unit"]

    def _timer(
        self, raw: dict[str, Any], step: dict[str, Any], path: str, preds: frozenset[str]
    ) -> None:
        self._predecessor(raw["from_step"], f"{path}.from_step", step["key"], preds)
        step["from_step"] = raw["from_step"]
        low, high = raw.get("min_minutes"), raw.get("max_minutes")
        if low is not None and high is not None and low >= high:
            raise MbrError(
                f"{path}.max_minutes", f"max_minutes {high} must be above min_minutes {low}"
            )
        for name in ("min_minutes", "max_minutes"):
            if name in raw:
                step[name] = raw[name]

    def _label(self, raw: dict[str, Any], step: dict[str, Any], path: str, _: Any) -> None:
        step["label_kind"] = raw["label_kind"]
        step["copies"] = raw.get("copies", DEFAULTS["copies"])

    def _check_formula(self, formula: str, path: str, this: str, preds: frozenset[str]) -> None:
        try:
            expression = parse(formula)
        except FormulaError as error:
            raise MbrError(path, str(error)) from None
        for name in sorted(expression.names, key=lambda name: _column(formula, name)):
            problem = self._name_problem(name, this, preds)
            if problem:
                raise MbrError(path, f"{name!r} at column {_column(formula, name)}: {problem}")

    def _name_problem(self, name: str, this: str, preds: frozenset[str]) -> str:
        parts = name.split(".")
        if parts[0] == "param":
            if len(parts) == 2 and parts[1] in self.parameters:
                return ""
            return "unknown parameter: define it under `parameters`"
        if parts[0] == "patient":
            return "" if name in PATIENT_NAMES else "unknown patient value (known: weight_kg)"
        if len(parts) > 2:
            return "names are param.<name>, patient.weight_kg, <step> or <material step>.<lot>"
        step = parts[0]
        if step == this:
            return "a calculation cannot use its own value"
        if step not in self.all_keys:
            return f"unknown step {step!r}"
        if step not in preds:
            return f"step {step!r} is not a predecessor of {this!r}: add it to `after`"
        kind = self.known[step]["kind"]
        if len(parts) == 1 and kind not in VALUED_KINDS:
            return f"{step!r} is a {kind} step; only numeric and calculation steps have a value"
        if len(parts) == 2 and kind != "material":
            return f"{step!r} is a {kind} step; lot attributes come from material steps"
        return ""


def _positive(value: Any, path: str) -> str:
    number = _number(value, path)
    if Decimal(number) <= 0:
        raise MbrError(path, f"{number} must be greater than 0")
    return number


def _limits(raw: dict[str, Any], path: str) -> dict[str, str]:
    limits: dict[str, str] = {
        name: _number(raw[name], f"{path}.{name}") for name in ("low", "high") if name in raw
    }
    if "low" in limits and "high" in limits and Decimal(limits["low"]) >= Decimal(limits["high"]):
        raise MbrError(f"{path}.high", f"high {limits['high']} must be above low {limits['low']}")
    return limits


def _check_nesting(step: Mapping[str, Any], path: str) -> None:
    """Action limits at least as wide as alert limits, the plausible range wider than both,
    no low above any high, and a target inside them all."""
    present = [name for name in ("alert", "action", "range") if name in step]
    for outer, inner in (("action", "alert"), ("range", "action"), ("range", "alert")):
        if outer not in step or inner not in step:
            continue
        o, i = step[outer], step[inner]
        if "low" in o and "low" in i and Decimal(o["low"]) > Decimal(i["low"]):
            raise MbrError(
                f"{path}.{outer}.low",
                f"{outer} low {o['low']} is above {inner} low {i['low']}: "
                f"{outer} limits must be at least as wide as {inner} limits",
            )
        if "high" in o and "high" in i and Decimal(o["high"]) < Decimal(i["high"]):
            raise MbrError(
                f"{path}.{outer}.high",
                f"{outer} high {o['high']} is below {inner} high {i['high']}: "
                f"{outer} limits must be at least as wide as {inner} limits",
            )
    for low_name in present:
        for high_name in present:
            low, high = step[low_name].get("low"), step[high_name].get("high")
            if low is not None and high is not None and Decimal(low) >= Decimal(high):
                raise MbrError(
                    f"{path}.{high_name}.high",
                    f"{high_name} high {high} must be above {low_name} low {low}",
                )
    if "target" in step:
        target = Decimal(step["target"])
        for name in present:
            low, high = step[name].get("low"), step[name].get("high")
            if (low is not None and target < Decimal(low)) or (
                high is not None and target > Decimal(high)
            ):
                raise MbrError(f"{path}.target", f"target {step['target']} is outside {name}")


def _column(formula: str, name: str) -> int:
    match = re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", formula)
    return match.start() + 1 if match else 0
