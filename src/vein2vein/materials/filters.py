"""The lot list's filters, for its page and `GET /api/v1/materials/lots` (web/lists.py).
What each narrows is `selectors.narrow_lots`, in the database. The page and the API name some
filters differently (their query strings are kept): the page's `q`, `material` (a select) and
`expiring` are the API's `search`, `material_id` and `expiring_days`."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django.db.models import QuerySet

from vein2vein.web.lists import Flag, IntegerFilter, SelectorFilterSet

from . import selectors
from .choices import LotStatus
from .models import Lot, Material


class LotFilterSet(SelectorFilterSet):
    q = df.CharFilter(label="Search", max_length=100, method="narrow")
    status = df.ChoiceFilter(
        label="Status", choices=LotStatus.choices, empty_label="Any status", method="narrow"
    )
    material = df.ModelChoiceFilter(
        label="Material",
        queryset=Material.objects.all(),
        empty_label="Any material",
        method="narrow",
    )
    location = df.CharFilter(label="Location", max_length=100, method="narrow")
    expiring = IntegerFilter(
        label="Expiring within (days)", min_value=0, max_value=3650, method="narrow"
    )
    usable = Flag(label="Usable now", method="narrow")

    keywords = {"q": "search", "material": "material_id", "expiring": "expiring_days"}

    class Meta:
        model = Lot
        fields: list[str] = []

    @staticmethod
    def narrowing(qs: QuerySet[Any], **kwargs: Any) -> QuerySet[Any]:
        return selectors.narrow_lots(qs, **kwargs)


class LotApiFilterSet(LotFilterSet):
    """The API's names of the same filters, and two more (part number, site)."""

    search = df.CharFilter(max_length=100, method="narrow")
    material_id = IntegerFilter(min_value=1, method="narrow")
    part_number = df.CharFilter(max_length=40, method="narrow")
    site_id = IntegerFilter(min_value=1, method="narrow")
    location = df.CharFilter(max_length=200, method="narrow")
    expiring_days = IntegerFilter(min_value=0, max_value=3650, method="narrow")
