"""The manufacturing lists' filters (web/lists.py): batches for the batch list page and
`GET /api/v1/manufacturing/batches`, master records for the API's MBR list."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django.db.models import QuerySet

from .choices import BatchStatus
from .models import Batch, MasterRecord


class BatchFilterSet(df.FilterSet):
    status = df.ChoiceFilter(label="Status", choices=BatchStatus.choices, empty_label="Any status")

    class Meta:
        model = Batch
        fields: list[str] = []


class MasterRecordFilterSet(df.FilterSet):
    product = df.CharFilter(max_length=30, method="by_product")

    class Meta:
        model = MasterRecord
        fields: list[str] = []

    def by_product(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return qs.filter(product__code=value.strip())
