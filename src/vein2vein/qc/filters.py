"""The qc lists' filters (web/lists.py): samples and results, for their pages and the API."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django.db.models import QuerySet

from .choices import Evaluation, ResultStatus, SamplePurpose, SampleStatus
from .models import Sample, TestResult


class SampleFilterSet(df.FilterSet):
    purpose = df.ChoiceFilter(label="Purpose", choices=SamplePurpose.choices, empty_label="Any")
    status = df.ChoiceFilter(label="Status", choices=SampleStatus.choices, empty_label="Any")
    batch = df.CharFilter(label="Batch number", max_length=40, method="by_batch")

    class Meta:
        model = Sample
        fields: list[str] = []

    def by_batch(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return qs.filter(batch__number__iexact=value.strip())


class ResultFilterSet(df.FilterSet):
    status = df.ChoiceFilter(label="Status", choices=ResultStatus.choices, empty_label="Any")
    evaluation = df.ChoiceFilter(label="Evaluation", choices=Evaluation.choices, empty_label="Any")
    batch = df.CharFilter(label="Batch number", max_length=40, method="by_batch")

    class Meta:
        model = TestResult
        fields: list[str] = []

    def by_batch(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return qs.filter(batch__number__iexact=value.strip())
