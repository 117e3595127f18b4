"""The release list's filters (web/lists.py): batches awaiting disposition, for the page and
`GET /api/v1/release/batches`."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django.db.models import Exists, OuterRef, QuerySet

from vein2vein.web.lists import YesNo

from .choices import Decision
from .models import Disposition


class AwaitingFilterSet(df.FilterSet):
    held = YesNo(label="On quarantine hold", method="by_held", yes="On hold", no="Not yet decided")

    def by_held(self, qs: QuerySet[Any], name: str, value: bool) -> QuerySet[Any]:
        hold = Disposition.objects.filter(batch=OuterRef("pk"), decision=Decision.HOLD)
        return qs.filter(Exists(hold)) if value else qs.exclude(Exists(hold))
