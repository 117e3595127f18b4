"""The training lists' filters, for their pages and the API (web/lists.py): assignments and
qualifications. What each narrows is the selector's (`narrow_assignments`,
`narrow_qualifications`), in the database."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django.db.models import QuerySet

from vein2vein.web.lists import Flag, SelectorFilterSet

from . import selectors
from .choices import AssignmentStatus
from .forms import CHECKBOX
from .models import Qualification, TrainingAssignment

STATES = [
    ("valid", "Valid"),
    ("expired", "Expired"),
    ("revoked", "Revoked"),
    ("superseded", "Superseded"),
]


class AssignmentFilterSet(SelectorFilterSet):
    status = df.ChoiceFilter(
        label="Status", choices=AssignmentStatus.choices, empty_label="Any status", method="narrow"
    )
    overdue = Flag(label="Overdue only", widget=CHECKBOX, method="narrow")
    document = df.CharFilter(label="Document number", max_length=20, method="narrow")
    trainee = df.CharFilter(label="Trainee (username)", max_length=150, method="narrow")

    class Meta:
        model = TrainingAssignment
        fields: list[str] = []

    @staticmethod
    def narrowing(qs: QuerySet[Any], **kwargs: Any) -> QuerySet[Any]:
        return selectors.narrow_assignments(qs, **kwargs)


def _type_choices() -> list[tuple[str, str]]:
    return [(t.code, t.name) for t in selectors.qualification_types()]


class QualificationFilterSet(SelectorFilterSet):
    user = df.CharFilter(label="Person (username)", max_length=150, method="narrow")
    qualification_type = df.ChoiceFilter(
        label="Qualification",
        choices=_type_choices,
        empty_label="Any qualification",
        method="narrow",
    )
    state = df.ChoiceFilter(label="State", choices=STATES, empty_label="Any state", method="narrow")

    class Meta:
        model = Qualification
        fields: list[str] = []

    @staticmethod
    def narrowing(qs: QuerySet[Any], **kwargs: Any) -> QuerySet[Any]:
        return selectors.narrow_qualifications(qs, **kwargs)


class QualificationApiFilterSet(QualificationFilterSet):
    """The API names a qualification type by code in any case (the page picks from a list)."""

    qualification_type = df.CharFilter(max_length=40, method="narrow")
