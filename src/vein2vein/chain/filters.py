"""The order list's filters, for its page and `GET /api/v1/chain/orders` (web/lists.py).

The page's COI box (`q`) takes a scan, a whole COI or a part of one (chain/forms.py reads it);
the API's `coi` is a whole COI identifier, spaces ignored (the page accepts it too)."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django import forms
from django.db.models import Q, QuerySet

from .choices import OrderStatus
from .forms import OrderScanForm
from .models import Patient, TherapyOrder


class OrderFilterSet(df.FilterSet):
    q = df.CharFilter(
        label="COI identifier",
        max_length=60,
        widget=forms.TextInput(attrs={"placeholder": "Scan or type a COI", "autocomplete": "off"}),
        method="by_scan",
    )
    status = df.ChoiceFilter(label="Status", choices=OrderStatus.choices, empty_label="Any status")
    coi = df.CharFilter(max_length=20, method="by_coi")

    class Meta:
        model = TherapyOrder
        fields: list[str] = []
        form = OrderScanForm

    @property
    def exact(self) -> bool:
        """The COI box held a whole COI (the page opens its order)."""
        return bool(self.is_bound and self.form.is_valid() and self.form.exact)

    def by_scan(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return qs.filter(coi=value) if self.exact else qs.filter(coi__contains=value)

    def by_coi(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return qs.filter(coi="".join(value.split()).upper())


class PatientFilterSet(df.FilterSet):
    """The patient list's search box (`q`: site patient ID or name contains) and the API's
    exact site and site patient ID."""

    q = df.CharFilter(max_length=100, method="by_text")
    site_id = df.NumberFilter(field_name="site_id")
    site_patient_id = df.CharFilter(max_length=40, method="by_site_patient_id")

    class Meta:
        model = Patient
        fields: list[str] = []

    def by_text(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return qs.filter(
            Q(site_patient_id__icontains=value)
            | Q(family_name__icontains=value)
            | Q(given_name__icontains=value)
        )

    def by_site_patient_id(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return qs.filter(site_patient_id=value.strip())
