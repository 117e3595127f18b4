"""Time: from the server, stored in UTC, shown in the site's zone (DESIGN.md rule 4)."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.utils import timezone


def now() -> dt.datetime:
    """The server's time in UTC: the only clock a GMP record is stamped with."""
    return timezone.now().astimezone(dt.UTC)


def is_valid_zone(name: str) -> bool:
    if not name or name not in _zones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def in_zone(value: dt.datetime, zone: str) -> dt.datetime:
    return value.astimezone(ZoneInfo(zone))


def format_in_zone(value: dt.datetime, zone: str) -> str:
    """'2026-11-25 10:52:13 CET (UTC+01:00, Europe/Madrid)': unambiguous for a reader anywhere."""
    local = in_zone(value, zone)
    offset = local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}"
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} (UTC{offset}, {zone})"


D = TypeVar("D", dt.date, dt.datetime)


def add_months(value: D, months: int) -> D:
    """`value` (a day or a moment) plus whole calendar months, on the month's last day when it
    is shorter (31 Jan + 1 month = 28 or 29 Feb). Review periods and qualification validity."""
    index = value.month - 1 + months
    year, month = value.year + index // 12, index % 12 + 1
    return value.replace(
        year=year, month=month, day=min(value.day, calendar.monthrange(year, month)[1])
    )
