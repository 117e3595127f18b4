"""Reading the text: YAML that a reviewer cannot misread, then the published JSON Schema, then
the semantic checks (`checks`); `load` returns the normalised definition or raises MbrError."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from decimal import Decimal
from importlib import resources
from typing import Any, cast

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match

from .checks import Checker
from .spec import MAX_BYTES, MAX_NESTING, NUMBER, MbrError, finite


@functools.cache
def _schema_text() -> str:
    resource = resources.files("vein2vein.manufacturing") / "schema" / "mbr-1.schema.json"
    return resource.read_text(encoding="utf-8")


def schema() -> dict[str, Any]:
    """The published JSON Schema of the file (a fresh copy: callers may change it)."""
    return cast(dict[str, Any], json.loads(_schema_text()))


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    """Validates against the schema without its `urn:` $id: jsonschema 4.17 (pinned by
    allotropy, docs/adr/0005) cannot join "#/$defs/..." onto a urn and fails to resolve every
    $ref; without the $id the refs resolve within the document on every version."""
    local = {k: v for k, v in schema().items() if k != "$id"}
    return jsonschema.Draft202012Validator(local)


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
    if NUMBER.fullmatch(text):
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
    if depth > MAX_NESTING:
        raise MbrError(path, f"nested deeper than {MAX_NESTING} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MbrError(path, f"key {key!r} is not text")
            _check_plain(item, _join(path, key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_plain(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, float) and not finite(value):
        raise MbrError(path, f"{value} is not a finite number")


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
    if error.validator in ("minItems", "minProperties") and error.validator_value == 1:
        # Our wording, not the library's: it changed between jsonschema versions.
        return MbrError(path, f"{_clean(repr(instance))} should be non-empty")
    return MbrError(path, _clean(error.message))


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
    return Checker(document).run()
