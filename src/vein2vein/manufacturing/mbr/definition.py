"""Reading a normalised definition (what `load` returns): its steps in execution order, the
predecessors of a step, what it names outside itself, and its content fingerprint."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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


def content_sha256(definition: Mapping[str, Any]) -> str:
    """Fingerprint of the normalised content, independent of key order and YAML layout, so
    an approved MBR can be proven unchanged."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
