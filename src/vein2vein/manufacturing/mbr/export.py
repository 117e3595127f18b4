"""Export: a definition as YAML text that reads like a file a person wrote (defaults left
out, fixed key order, numbers unquoted), which `load` reads back to the same definition."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from .spec import COMMON_FIELDS, DEFAULTS, KIND_FIELDS

_CANONICAL_INT = re.compile(r"-?[0-9]+")
_CANONICAL_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+")
_NUMBER_FIELDS = frozenset({"value", "target", "low", "high", "quantity"})


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
        **DEFAULTS,
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
