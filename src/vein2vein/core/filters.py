"""The audit trail's filters, for its page and `GET /api/v1/audit/events` (web/lists.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import django_filters as df
from django import forms
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from .models import AuditEvent


class DayOrMomentField(forms.Field):
    """A calendar day (the page's date input) or an aware moment (the API's `since`/`until`)."""

    widget = forms.DateInput(attrs={"type": "date"})

    def to_python(self, value: Any) -> dt.date | dt.datetime | None:
        if value in (None, ""):
            return None
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
        moment = parse_datetime(text)
        if moment is None or moment.tzinfo is None:
            raise forms.ValidationError("Enter a valid date.")
        return moment


def _midnight(day: dt.date, zone: dt.tzinfo, days_after: int = 0) -> dt.datetime | None:
    """Midnight starting `day` (+ days_after) in `zone`, in UTC; None (no bound) past the ends
    of the calendar, e.g. 'until 9999-12-31', which would otherwise overflow into a 500."""
    try:
        return dt.datetime.combine(
            day + dt.timedelta(days=days_after), dt.time.min, zone
        ).astimezone(dt.UTC)
    except OverflowError:
        return None


class DayOrMomentFilter(df.Filter):
    field_class = DayOrMomentField


class AuditEventFilterSet(df.FilterSet):
    """A day is read in the zone of the user's current site; `until` a day includes it."""

    record_type = df.CharFilter(label="Record type", max_length=100)
    record_id = df.CharFilter(label="Record id", max_length=64)
    actor = df.CharFilter(label="User", max_length=150, method="by_actor")
    action = df.CharFilter(label="Action", lookup_expr="startswith", max_length=100)
    since = DayOrMomentFilter(label="Since", method="from_moment")
    until = DayOrMomentFilter(label="Until (inclusive)", method="to_moment")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def by_actor(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return qs.filter(Q(actor_username=value) | Q(actor_username__iexact=value))

    def _zone(self) -> dt.tzinfo:
        site = getattr(self.request, "site", None)
        return ZoneInfo(site.time_zone) if site is not None else dt.UTC

    def _bound(self, value: dt.date | dt.datetime, days_after: int) -> dt.datetime | None:
        if isinstance(value, dt.datetime):
            return value
        return _midnight(value, self._zone(), days_after)

    def from_moment(self, qs: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        bound = self._bound(value, 0)
        return qs if bound is None else qs.filter(occurred_at__gte=bound)

    def to_moment(self, qs: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        bound = self._bound(value, 1)
        return qs if bound is None else qs.filter(occurred_at__lt=bound)
