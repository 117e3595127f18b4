"""The quality lists' filters, for their pages and the API (web/lists.py).

The page picks an owner from the people who may own quality work (by id); the API names one by
username (404 when nobody has it). What an owner, "active" or "overdue" means is the
selector's (overdue is judged at each site's own today) and is written here once."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django.db.models import QuerySet

from vein2vein.core.errors import NotFound
from vein2vein.core.models import User
from vein2vein.web.lists import YesNo, narrowed

from . import selectors
from .choices import (
    CHANGE_ACTIVE,
    DEVIATION_ACTIVE,
    CapaStatus,
    ChangeStatus,
    Classification,
    DeviationCategory,
    DeviationStatus,
)
from .forms import PeopleChoiceField, people
from .models import Capa, ChangeControl, Deviation


class PeopleFilter(df.ModelChoiceFilter):
    field_class = PeopleChoiceField


def _user_named(username: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"user {username} does not exist", field="owner")
    return user


def _people(request: Any) -> QuerySet[User]:
    return people()


def _overdue() -> YesNo:
    return YesNo(label="Overdue", yes="Overdue", no="Not overdue", method="by_overdue")


class _OwnedFilter(df.FilterSet):
    """Owner and overdue, narrowed by the list's selector (`select`)."""

    @staticmethod
    def select(**kwargs: Any) -> Any:
        raise NotImplementedError

    def by_owner(self, qs: QuerySet[Any], name: str, value: User) -> QuerySet[Any]:
        return narrowed(qs, self.select(owner=value))

    def by_overdue(self, qs: QuerySet[Any], name: str, value: bool) -> QuerySet[Any]:
        return narrowed(qs, self.select(overdue=value))

    def by_username(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return self.by_owner(qs, name, _user_named(value))


def _status(qs: QuerySet[Any], active: frozenset[str], value: str) -> QuerySet[Any]:
    return qs.filter(status__in=active) if value == "active" else qs.filter(status=value)


class DeviationFilterSet(_OwnedFilter):
    status = df.ChoiceFilter(
        label="Status",
        choices=[("active", "Active (not closed)"), *DeviationStatus.choices],
        empty_label="Any",
        method="by_status",
    )
    classification = df.ChoiceFilter(
        label="Classification",
        choices=[*Classification.choices, ("unclassified", "Not classified yet")],
        empty_label="Any",
        method="by_classification",
    )
    category = df.ChoiceFilter(
        label="Category", choices=DeviationCategory.choices, empty_label="Any"
    )
    overdue = _overdue()
    owner = PeopleFilter(
        label="Raised by / investigator",
        queryset=_people,
        empty_label="Anyone",
        method="by_owner",
    )

    class Meta:
        model = Deviation
        fields: list[str] = []

    @staticmethod
    def select(**kwargs: Any) -> Any:
        return selectors.deviations(**kwargs)

    def by_status(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return _status(qs, DEVIATION_ACTIVE, value)

    def by_classification(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return qs.filter(classification="" if value == "unclassified" else value)


class CapaFilterSet(_OwnedFilter):
    status = df.ChoiceFilter(label="Status", choices=CapaStatus.choices, empty_label="Any")
    overdue = _overdue()
    owner = PeopleFilter(label="Owner", queryset=_people, empty_label="Anyone", method="by_owner")

    class Meta:
        model = Capa
        fields: list[str] = []

    @staticmethod
    def select(**kwargs: Any) -> Any:
        return selectors.capas(**kwargs)


class ChangeFilterSet(_OwnedFilter):
    status = df.ChoiceFilter(
        label="Status",
        choices=[("active", "Active"), *ChangeStatus.choices],
        empty_label="Any",
        method="by_status",
    )
    overdue = _overdue()
    owner = PeopleFilter(label="Owner", queryset=_people, empty_label="Anyone", method="by_owner")

    class Meta:
        model = ChangeControl
        fields: list[str] = []

    @staticmethod
    def select(**kwargs: Any) -> Any:
        return selectors.change_controls(**kwargs)

    def by_status(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return _status(qs, CHANGE_ACTIVE, value)


def _by_username(base: type[_OwnedFilter]) -> type[_OwnedFilter]:
    """The API's form of a list's filter: the owner named by username."""
    owner = df.CharFilter(max_length=150, method="by_username")
    return type(base.__name__.replace("FilterSet", "ApiFilterSet"), (base,), {"owner": owner})


DeviationApiFilterSet = _by_username(DeviationFilterSet)
CapaApiFilterSet = _by_username(CapaFilterSet)
ChangeApiFilterSet = _by_username(ChangeFilterSet)
