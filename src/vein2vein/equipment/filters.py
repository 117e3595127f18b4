"""The equipment list's filters, for its page and `GET /api/v1/equipment/units` (web/lists.py).
What each narrows is `selectors.narrow_equipment` ("due" is judged from the maintenance
plans). The page picks a site from a list (by id), the API names it by code (404 when none)."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django.db.models import QuerySet

from vein2vein.core.errors import NotFound
from vein2vein.core.models import Site
from vein2vein.web.lists import SelectorFilterSet

from . import selectors
from .choices import EquipmentKind, EquipmentStatus
from .models import Equipment

DUE = [("soon", "Due within 14 days or overdue"), ("overdue", "Overdue")]


class EquipmentFilterSet(SelectorFilterSet):
    q = df.CharFilter(label="ID or name", max_length=100, method="narrow")
    kind = df.ChoiceFilter(
        label="Kind", choices=EquipmentKind.choices, empty_label="Any", method="narrow"
    )
    status = df.ChoiceFilter(
        label="Status", choices=EquipmentStatus.choices, empty_label="Any", method="narrow"
    )
    due = df.ChoiceFilter(
        label="Calibration / maintenance", choices=DUE, empty_label="Any", method="narrow"
    )
    site = df.ModelChoiceFilter(
        label="Site", queryset=Site.objects.all(), empty_label="Any", method="by_site"
    )

    class Meta:
        model = Equipment
        fields: list[str] = []

    @staticmethod
    def narrowing(qs: QuerySet[Any], **kwargs: Any) -> QuerySet[Any]:
        return selectors.narrow_equipment(qs, **kwargs)

    def by_site(self, qs: QuerySet[Any], name: str, value: Site) -> QuerySet[Any]:
        return self.narrowing(qs, site=value)


class EquipmentApiFilterSet(EquipmentFilterSet):
    site = df.CharFilter(max_length=20, method="by_site_code")

    def by_site_code(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        site = Site.objects.filter(code=value.upper()).first()
        if site is None:
            raise NotFound(f"site {value} does not exist", field="site")
        return self.by_site(qs, name, site)
