"""The master batch record file format "vein2vein-mbr/1": load, check, normalise and export.

An MBR is authored as a YAML file held in a controlled document, so it is text that people
write and review: this module is the only reader of that text. `load` refuses anything that
could make a batch record ambiguous (unknown keys, duplicate keys, a step that depends on a
later one, a formula naming a value that will not exist yet, limits that do not nest) and
returns a *normalised* definition: the same nested shape as the YAML with every defaulted
field filled in and every decimal quantity as a canonical Decimal string, so it is plain JSON
(no floats) that can be stored, hashed and compared. Fields without a default (`target`,
`alert`, `action`, `range`, a material's `quantity`/`quantity_from`, a timer's
`min_minutes`/`max_minutes`) are present only when given. Pure Python: no Django import, so
the format can be checked by tools and tests without a database.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from importlib import resources
from typing import Any, cast

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match

from vein2vein.standards import expressions
from vein2vein.standards.expressions import FormulaError

FORMAT = "vein2vein-mbr/1"
MAX_BYTES = 1_000_000
"""Largest file accepted: a real MBR is a few tens of kilobytes."""

STEP_KINDS: tuple[str, ...] = (
    "instruction",
    "numeric",
    "choice",
    "text",
    "calculation",
    "material",
    "equipment",
    "sample",
    "coi_check",
    "timer",
    "label",
    "attachment",
    "signoff",
)

EQUIPMENT_KINDS: tuple[str, ...] = (
    "biosafety_cabinet",
    "incubator",
    "centrifuge",
    "closed_system",
    "cell_counter",
    "flow_cytometer",
    "controlled_rate_freezer",
    "ln2_freezer",
    "cell_washer",
    "tube_sealer",
    "isolator",
)

KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "instruction": (),
    "numeric": ("unit", "decimals", "target", "alert", "action", "range"),
    "choice": ("options", "in_spec"),
    "text": ("max_length",),
    "calculation": ("formula", "unit", "decimals", "alert", "action"),
    "material": ("part", "quantity", "quantity_from", "unit"),
    "equipment": ("equipment_kind",),
    "sample": ("sample_type", "tests", "quantity", "unit"),
    "coi_check": (),
    "timer": ("from_step", "min_minutes", "max_minutes"),
    "label": ("label_kind", "copies"),
    "attachment": (),
    "signoff": (),
}
"""Fields each kind adds to the common ones, in export order."""

COMMON_FIELDS: tuple[str, ...] = (
    "key",
    "kind",
    "title",
    "instruction",
    "after",
    "requires",
    "verify",
)

PATIENT_NAMES = frozenset({"patient.weight_kg"})
"""Patient values a formula may use; the batch supplies them from the order."""

VALUED_KINDS = frozenset({"numeric", "calculation"})
"""Kinds whose entry is a number a formula may use."""

MAX_MAGNITUDE = 30
"""Largest |exponent| of a number in the file (1e-30 .. 1e30): beyond is a typo."""

MAX_DIGITS = expressions.PRECISION
"""Most significant digits of a number in the file: what a formula can carry exactly."""

_MAX_NESTING = 32
_DEFAULTS = {"decimals": 2, "max_length": 2000, "copies": 1}
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CANONICAL_INT = re.compile(r"-?[0-9]+")
_CANONICAL_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+")
_NUMBER_FIELDS = frozenset({"value", "target", "low", "high", "quantity"})


class MbrError(ValueError):
    """An MBR file that cannot be accepted; `path` points into the YAML
    ("operations[2].steps[0].action.low", "" for the file as a whole)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


# --- schema ------------------------------------------------------------------------------


@functools.cache
def _schema_text() -> str:
    resource = resources.files("vein2vein.manufacturing") / "schema" / "mbr-1.schema.json"
    return resource.read_text(encoding="utf-8")


def schema() -> dict[str, Any]:
    """The published JSON Schema of the file (a fresh copy: callers may change it)."""
    return cast(dict[str, Any], json.loads(_schema_text()))


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


# --- YAML --------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses what a reviewer could misread: aliases (one edit changes many
    places, and they can expand exponentially) and duplicate keys (YAML keeps the last)."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise MbrError(
                "",
                f"line {self.get_mark().line + 1}: YAML aliases (*name) are not allowed; "
                "write the value out",
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable: the base class reports it
                continue
            if duplicate:
                raise MbrError(
                    "", f"line {key_node.start_mark.line + 1}: duplicate key {key!r} in a mapping"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _construct_float(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal | float:
    """YAML floats as exact Decimals from their text (2.08 stays 2.08, not a binary float);
    .inf and .nan stay floats so that the check after parsing can refuse them by path."""
    text = str(loader.construct_scalar(cast(yaml.ScalarNode, node))).replace("_", "")
    if _NUMBER.fullmatch(text):
        return Decimal(text)
    return loader.construct_yaml_float(cast(yaml.ScalarNode, node))


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def _parse_yaml(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise MbrError("", f"the file is {len(text)} bytes; the limit is {MAX_BYTES}")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise MbrError("", f"the file is not UTF-8 text (byte {error.start + 1})") from None
    elif not isinstance(text, str):
        raise MbrError("", f"expected text, got {type(text).__name__}")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise MbrError("", f"the file is {size} bytes; the limit is {MAX_BYTES}")
    text = text.removeprefix("\ufeff")
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except MbrError:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise MbrError("", f"not valid YAML: {error.problem}{where}") from None
    except yaml.YAMLError as error:
        raise MbrError("", f"not valid YAML: {error}") from None
    except RecursionError:
        raise MbrError("", "the YAML nests too deeply") from None
    except ValueError as error:  # e.g. an integer longer than Python converts
        raise MbrError("", f"not valid YAML: {error}") from None


def _check_plain(value: Any, path: str, depth: int = 0) -> None:
    """Before the schema: refuse non-text keys, non-finite numbers and absurd nesting, which
    JSON cannot hold and the schema validator would trip over."""
    if depth > _MAX_NESTING:
        raise MbrError(path, f"nested deeper than {_MAX_NESTING} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MbrError(path, f"key {key!r} is not text")
            _check_plain(item, _join(path, key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_plain(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, float) and not _finite(value):
        raise MbrError(path, f"{value} is not a finite number")


def _finite(value: float) -> bool:
    return value - value == 0


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _format_path(parts: Iterable[str | int]) -> str:
    path = ""
    for part in parts:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
    return path


def _clean(message: str) -> str:
    return re.sub(r"Decimal\('([^']*)'\)", r"\1", message)


def _schema_error(error: ValidationError) -> MbrError:
    path = _format_path(error.absolute_path)
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = list(cast(dict[str, Any], error.schema).get("properties", {}))
        extra = [key for key in instance if key not in allowed]
        if extra:
            kind = instance.get("kind")
            on = f" on a {kind} step" if "kind" in allowed and isinstance(kind, str) else ""
            return MbrError(
                _join(path, str(extra[0])),
                f"unknown key {extra[0]!r}{on} (allowed: {', '.join(allowed)})",
            )
    schema_part = error.schema if isinstance(error.schema, dict) else {}
    if error.validator in ("anyOf", "oneOf", "not") and "description" in schema_part:
        return MbrError(path, str(schema_part["description"]))
    return MbrError(path, _clean(error.message))


# --- numbers -----------------------------------------------------------------------------


def _number(value: Any, path: str) -> str:
    """The canonical text of a number: plain notation, no exponent, no trailing zeros."""
    if isinstance(value, bool):
        raise MbrError(path, f"{value} is not a number")
    try:
        if isinstance(value, float):
            if not _finite(value):
                raise MbrError(path, f"{value} is not a finite number")
            number = Decimal(str(value))
        elif isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
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


# --- semantic checks ---------------------------------------------------------------------


class _Checker:
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
        step["decimals"] = raw.get("decimals", _DEFAULTS["decimals"])
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
        step["decimals"] = raw.get("decimals", _DEFAULTS["decimals"])
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
        step["max_length"] = raw.get("max_length", _DEFAULTS["max_length"])

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
        step["copies"] = raw.get("copies", _DEFAULTS["copies"])

    def _check_formula(self, formula: str, path: str, this: str, preds: frozenset[str]) -> None:
        try:
            expression = _parse(formula)
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


@functools.lru_cache(maxsize=512)
def _parse(formula: str) -> expressions.Expression:
    return expressions.parse(formula)


# --- public API --------------------------------------------------------------------------


def load(text: str | bytes) -> dict[str, Any]:
    """Parse and check an MBR file; returns the normalised definition or raises MbrError."""
    document = _parse_yaml(text)
    if not isinstance(document, dict):
        got = "an empty file" if document is None else f"a {type(document).__name__}"
        raise MbrError("", f"the file must be a YAML mapping, got {got}")
    _check_plain(document, "")
    errors = list(_validator().iter_errors(document))
    if errors:
        best = best_match(errors)
        assert best is not None
        raise _schema_error(best)
    return _Checker(document).run()


def steps(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every step in file order, each a copy with its "operation", "operation_title" and
    0-based "index" added, as the batch record executes them."""
    flat: list[dict[str, Any]] = []
    for operation in definition["operations"]:
        for raw in operation["steps"]:
            item = copy.deepcopy(dict(raw))
            item["operation"] = operation["key"]
            item["operation_title"] = operation["title"]
            item["index"] = len(flat)
            flat.append(item)
    return flat


def step(definition: Mapping[str, Any], key: str) -> dict[str, Any]:
    """One step as in `steps`; KeyError if there is none with this key."""
    for item in steps(definition):
        if item["key"] == key:
            return item
    raise KeyError(key)


def _all_predecessors(definition: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    preds: dict[str, frozenset[str]] = {}
    for item in steps(definition):
        after = item.get("after", [])
        preds[item["key"]] = frozenset(after).union(*(preds.get(name, ()) for name in after))
    return preds


def predecessors(definition: Mapping[str, Any], key: str) -> frozenset[str]:
    """Every step that must be done before `key` (transitively through `after`)."""
    return _all_predecessors(definition)[key]


@dataclass(frozen=True)
class References:
    """What an MBR names outside itself, for the service to check exists before approval."""

    product: str
    parts: frozenset[str]
    requirements: frozenset[str]
    equipment_kinds: frozenset[str]


def references(definition: Mapping[str, Any]) -> References:
    """The product, material parts, training requirements and equipment kinds named."""
    flat = steps(definition)
    return References(
        product=definition["product"],
        parts=frozenset(item["part"] for item in flat if item["kind"] == "material"),
        requirements=frozenset(name for item in flat for name in item.get("requires", [])),
        equipment_kinds=frozenset(
            item["equipment_kind"] for item in flat if item["kind"] == "equipment"
        ),
    )


def formula_names(step_def: Mapping[str, Any]) -> frozenset[str]:
    """The names a calculation step's formula reads (empty for other kinds): the values the
    service must gather before `evaluate`."""
    if step_def.get("kind") != "calculation":
        return frozenset()
    return _parse(step_def["formula"]).names


def evaluate(step_def: Mapping[str, Any], values: Mapping[str, Decimal]) -> Decimal:
    """The calculation's value, rounded half-up to its `decimals` as a person would on paper;
    FormulaError propagates (a missing name, division by zero, overflow)."""
    if step_def.get("kind") != "calculation":
        raise ValueError(f"step {step_def.get('key')!r} is not a calculation")
    result = _parse(step_def["formula"]).evaluate(values)
    decimals = int(step_def.get("decimals", _DEFAULTS["decimals"]))
    try:
        rounded = result.quantize(
            Decimal(1).scaleb(-decimals),
            rounding=ROUND_HALF_UP,
            context=Context(prec=100, traps=[InvalidOperation]),
        )
    except InvalidOperation:
        raise FormulaError(
            f"the result {result} is too large to record with {decimals} decimals"
        ) from None
    return rounded.copy_abs() if rounded.is_zero() else rounded


def _outside(limits: Mapping[str, str] | None, value: Decimal) -> bool:
    if not limits:
        return False
    low, high = limits.get("low"), limits.get("high")
    return (low is not None and value < Decimal(low)) or (
        high is not None and value > Decimal(high)
    )


def limit_flag(step_def: Mapping[str, Any], value: Decimal) -> str:
    """The flag an entry earns: "action" outside the action limits, "alert" outside the
    alert limits, else "". Limits are inclusive: a value equal to a limit is within."""
    if _outside(step_def.get("action"), value):
        return "action"
    if _outside(step_def.get("alert"), value):
        return "alert"
    return ""


def out_of_range(step_def: Mapping[str, Any], value: Decimal) -> str | None:
    """Why `value` is refused as a probable typo (outside `range`), or None when plausible."""
    limits = step_def.get("range")
    if not _outside(limits, value):
        return None
    assert limits is not None
    unit = f" {step_def['unit']}" if step_def.get("unit") else ""
    low, high = limits.get("low"), limits.get("high")
    if low is not None and high is not None:
        bounds = f"from {low} to {high}{unit}"
    elif low is not None:
        bounds = f"at least {low}{unit}"
    else:
        bounds = f"at most {high}{unit}"
    return f"{value}{unit} is outside the plausible range ({bounds}): check for a typo"


def content_sha256(definition: Mapping[str, Any]) -> str:
    """Fingerprint of the normalised content, independent of key order and YAML layout, so
    an approved MBR can be proven unchanged."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- export ------------------------------------------------------------------------------


class _Number(str):
    """A canonical number string, written to YAML unquoted."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    pass


def _represent_number(dumper: yaml.SafeDumper, value: _Number) -> yaml.ScalarNode:
    tag = "int" if _CANONICAL_INT.fullmatch(value) else "float"
    return dumper.represent_scalar(f"tag:yaml.org,2002:{tag}", str(value))


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(_Number, _represent_number)
_Dumper.add_representer(str, _represent_text)


def _ordered(mapping: Mapping[str, Any], order: Iterable[str]) -> dict[str, Any]:
    order = list(order)
    keys = [key for key in order if key in mapping]
    keys += sorted(key for key in mapping if key not in order)
    return {key: _export_value(key, mapping[key]) for key in keys}


def _export_value(key: str, value: Any) -> Any:
    if (
        key in _NUMBER_FIELDS
        and isinstance(value, str)
        and (_CANONICAL_INT.fullmatch(value) or _CANONICAL_DECIMAL.fullmatch(value))
    ):
        return _Number(value)
    if key in ("alert", "action", "range") and isinstance(value, Mapping):
        return _ordered(value, ("low", "high"))
    return value


def _export_step(raw: Mapping[str, Any], previous: str | None) -> dict[str, Any]:
    """A step without the fields that equal their defaults, so the export reads like a file
    a person wrote; `load` fills them back in identically."""
    kind = raw.get("kind", "")
    item = dict(raw)
    defaults: dict[str, Any] = {
        "instruction": "",
        "after": [previous] if previous is not None else [],
        "requires": [],
        "verify": kind == "signoff",
        **_DEFAULTS,
    }
    if kind == "choice":
        defaults["in_spec"] = item.get("options")
    if kind == "material":
        defaults["unit"] = ""
    for name, default in defaults.items():
        if name in item and item[name] == default:
            del item[name]
    return _ordered(item, COMMON_FIELDS + KIND_FIELDS.get(kind, ()))


def dump(definition: Mapping[str, Any]) -> str:
    """YAML text of a definition for export: block style, fixed key order (parameters by
    name, as a JSON column would store them), defaults left out, numbers unquoted;
    `load(dump(d)) == d` for every `d` that `load` returned."""
    previous: str | None = None
    operations = []
    for operation in definition.get("operations", []):
        exported = []
        for raw in operation.get("steps", []):
            exported.append(_export_step(raw, previous))
            previous = raw.get("key")
        rest = {key: value for key, value in operation.items() if key != "steps"}
        operations.append({**_ordered(rest, ("key", "title")), "steps": exported})
    document: dict[str, Any] = {}
    for key in ("schema", "product", "process_version", "title", "description"):
        if key in definition and not (key == "description" and definition[key] == ""):
            document[key] = definition[key]
    parameters = {
        name: {
            key: value
            for key, value in _ordered(parameter, ("value", "unit", "description")).items()
            if not (key in ("unit", "description") and value == "")
        }
        for name, parameter in sorted(definition.get("parameters", {}).items())
    }
    if parameters:
        document["parameters"] = parameters
    document["operations"] = operations
    known = {"schema", "product", "process_version", "title", "description", "parameters"}
    for key in sorted(definition):
        if key not in known and key != "operations":
            document[key] = definition[key]
    return yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
        indent=2,
    )
