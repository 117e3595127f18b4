"""API answers from records: a ninja schema filled from a record's attributes of the same
names (`id` from the primary key), with the fields that differ (a site's code, a user's
username) given. Apps' API modules may import this module (`.importlinter`)."""

from __future__ import annotations

from typing import Any, TypeVar

from ninja import Schema

S = TypeVar("S", bound=Schema)
_MISSING = object()


def out(schema: type[S], record: Any, **given: Any) -> S:
    values: dict[str, Any] = {}
    for name in schema.model_fields:
        if name in given:
            values[name] = given[name]
            continue
        value = getattr(record, "pk" if name == "id" else name, _MISSING)
        if value is not _MISSING:
            values[name] = value
    return schema(**values)
