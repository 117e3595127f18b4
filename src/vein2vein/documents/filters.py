"""The document list's filters, for its page and `GET /api/v1/documents` (web/lists.py).
What each narrows is `selectors.narrow_documents`, in the database."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django.db.models import QuerySet

from vein2vein.web.lists import Flag

from . import selectors
from .choices import DocumentKind, VersionStatus
from .models import Document


class DocumentFilterSet(df.FilterSet):
    kind = df.ChoiceFilter(
        label="Kind", choices=DocumentKind.choices, empty_label="Any kind", method="narrow"
    )
    status = df.ChoiceFilter(
        label="Has a version",
        choices=VersionStatus.choices,
        empty_label="Any status",
        method="narrow",
    )
    q = df.CharFilter(label="Number or title", max_length=100, method="narrow")
    overdue = Flag(label="Periodic review overdue", method="narrow")

    class Meta:
        model = Document
        fields: list[str] = []

    def narrow(self, qs: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        return selectors.narrow_documents(qs, **{"text" if name == "q" else name: value})
