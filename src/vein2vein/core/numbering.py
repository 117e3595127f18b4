"""One allocator for every human-readable record number (DEV-2026-0001, LOT-..., B-MFG-PHL-...,
SOP-0001, the COI and DIN sequences). Each app keeps its own format; the counting, the row lock
and the year rule live here, once.

The year is always the year in the site's zone (DESIGN.md rule 4): at 23:30 UTC on 31 December
a number allocated for a site in Europe/Berlin already carries next year, one for a site in
America/New_York still this year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from django.db import migrations, models, transaction

from .errors import Conflict
from .models import NumberSequence, Site
from .time import in_zone, now

__all__ = ["Allocated", "allocate", "carry_over", "hold", "retire_counter", "year_at"]


class Allocated(NamedTuple):
    """What a number is built from: the year it carries (0 when it carries none) and its
    sequence number within key, scope and year."""

    year: int
    n: int


def year_at(site: Site, at: dt.datetime | None = None) -> int:
    """The calendar year of `at` (default: now) as the site's clock reads it."""
    return in_zone(at or now(), site.time_zone).year


def _locked(key: str, scope: str, year: int) -> NumberSequence:
    """The counter row, locked until the caller's transaction ends; created at 0 if new.

    The row is inserted with ON CONFLICT DO NOTHING (SQLite: INSERT OR IGNORE), so two first
    writers racing for a new key never raise: the loser's insert is a no-op and its
    select_for_update waits for the winner's lock, then sees the winner's count."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("numbering.allocate must run inside the caller's transaction")
    found = NumberSequence.objects.select_for_update(no_key=True, of=("self",)).filter(
        key=key, scope=scope, year=year
    )
    row = found.first()
    if row is None:
        NumberSequence.objects.bulk_create(
            [NumberSequence(key=key, scope=scope, year=year, last=0)], ignore_conflicts=True
        )
        row = found.get()
    return row


def _where(
    key: str, site: Site | None, yearly: bool, scope: str, at: dt.datetime | None
) -> tuple[str, int]:
    if not key or len(key) > NumberSequence._meta.get_field("key").max_length:  # type: ignore[operator]
        raise ValueError(f"number key {key!r} is empty or too long")
    if len(scope) > NumberSequence._meta.get_field("scope").max_length:  # type: ignore[operator]
        raise ValueError(f"number scope {scope!r} is too long")
    if not yearly:
        return scope, 0
    if site is None:
        raise ValueError(f"a yearly number ({key}) needs the site whose year it carries")
    return scope, year_at(site, at)


def allocate(
    key: str,
    *,
    site: Site | None,
    yearly: bool,
    scope: str = "",
    at: dt.datetime | None = None,
    maximum: int | None = None,
) -> Allocated:
    """The next number of `key`, inside the caller's transaction (the row stays locked until
    it commits, so two writers never share a number; a rollback gives the number back).

    `yearly`: the count restarts each year, the year of `at` (default now) in `site`'s zone.
    `scope`: what the number carries besides the key ('' for one count across sites; a site's
    code or FIN when the number embeds it). `maximum`: refuse (Conflict) rather than go past it.
    """
    scope, year = _where(key, site, yearly, scope, at)
    row = _locked(key, scope, year)
    if maximum is not None and row.last >= maximum:
        where = f" for {scope}" if scope else ""
        when = f" in {year}" if year else ""
        raise Conflict(f"{key} numbers{where}{when} are used up (at most {maximum})")
    row.last += 1
    row.save(update_fields=["last"])
    return Allocated(year, row.last)


def hold(
    key: str, *, site: Site | None, yearly: bool, scope: str = "", at: dt.datetime | None = None
) -> None:
    """Lock the counter without advancing it: serialises a writer that brings its own number
    (an explicit document number) against the allocators of the same key."""
    scope, year = _where(key, site, yearly, scope, at)
    _locked(key, scope, year)


def carry_over(model: type[models.Model], rows: Iterable[tuple[str, str, int, int]]) -> int:
    """For the data migrations retiring an app's own counter: raise each (key, scope, year)
    counter of `model` (core's NumberSequence, historical or current) to at least `last`.
    Never lowers a counter, so a number once issued is never issued again. Returns how many
    counters were written."""
    manager = model._default_manager
    written = 0
    for key, scope, year, last in rows:
        row, _ = manager.get_or_create(key=key, scope=scope, year=year)
        if last > row.last:  # type: ignore[attr-defined]
            row.last = last  # type: ignore[attr-defined]
            row.save(update_fields=["last"])
            written += 1
    return written


CoreRow = tuple[str, str, int, int]


def retire_counter(
    app_label: str,
    model_name: str,
    *,
    fields: tuple[str, ...],
    to_core: Callable[..., CoreRow],
    from_core: Callable[[str, str, int, int], dict[str, Any] | None],
) -> migrations.RunPython:
    """The data migration that retires an app's own counter model: forward, its rows (the
    `fields`, the count last) become core counters through `to_core(*row)`; backward, core's
    counters that `from_core(key, scope, year, last)` maps (to the old fields, or None: not
    this app's) are copied back, so the app's old code would continue the count too."""
    lookup, count = fields[:-1], fields[-1]

    def forward(apps: Any, schema_editor: Any) -> None:
        old = apps.get_model(app_label, model_name)
        rows = old._default_manager.values_list(*fields)
        carry_over(apps.get_model("core", "NumberSequence"), (to_core(*row) for row in rows))

    def backward(apps: Any, schema_editor: Any) -> None:
        old = apps.get_model(app_label, model_name)
        core = apps.get_model("core", "NumberSequence")._default_manager
        for row in core.values_list("key", "scope", "year", "last"):
            values = from_core(*row)
            if values is not None:
                old._default_manager.update_or_create(
                    **{f: values[f] for f in lookup}, defaults={count: values[count]}
                )

    return migrations.RunPython(forward, backward)
