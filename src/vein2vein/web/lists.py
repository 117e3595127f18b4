"""List pages and API lists from one FilterSet (django-filter).

Each app's `filters.py` declares its lists' filters once: the name of the query parameter, how
its value is read and checked, and what it narrows (a column, or a selector's narrowing where
the meaning needs one, e.g. "overdue" judged at each site's own today). The page reads
`request.GET` through it (`list_page`), the API its ninja `Query[...Filter]` schema
(`api_rows`), so the two cannot drift apart. The FilterSet narrows the selector's queryset in
the database; the rows are paged there too (core.pagination).

Apps' views, API modules and filters.py may import this module (`.importlinter`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import django_filters as df
from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from vein2vein.core.errors import ValidationFailed
from vein2vein.core.pagination import PAGE_FIELDS, Page, pager_query, web_page

EMPTY_VALUES = (None, "", [], (), {})


class Flag(df.BooleanFilter):
    """A checkbox (page) or a boolean (API) that narrows when set and not at all when unset or
    false: `overdue=true` is the overdue rows, `overdue=false` every row."""

    field_class = forms.BooleanField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.CheckboxInput)
        super().__init__(*args, **kwargs)

    def filter(self, qs: Any, value: Any) -> Any:
        if not value:
            return qs
        return super().filter(qs, value)


def narrowed(qs: QuerySet[Any], rows: QuerySet[Any]) -> QuerySet[Any]:
    """`qs` kept to the rows of `rows` (a selector's narrowing), as a subquery: one query."""
    return qs.filter(pk__in=rows.values("pk"))


def first_error(filterset: df.FilterSet) -> tuple[str | None, str]:
    """(field, message) of the first refused filter value."""
    for field, errors in filterset.form.errors.items():
        name = None if field == "__all__" else field
        return name, f"{field}: {errors[0]}" if name else str(errors[0])
    return None, "invalid filter"


def bind(
    filterset_class: type[df.FilterSet],
    data: Mapping[str, Any] | None,
    queryset: QuerySet[Any],
    request: HttpRequest,
) -> df.FilterSet:
    return filterset_class(data, queryset=queryset, request=request)


def api_rows(
    filterset_class: type[df.FilterSet],
    filters: Page,
    queryset: QuerySet[Any],
    request: HttpRequest,
) -> QuerySet[Any]:
    """The API list's rows: the ninja schema's values (without limit/offset) through the
    FilterSet. A value the FilterSet refuses is a 400 naming the field."""
    data = {
        k: v for k, v in filters.dict(exclude=set(PAGE_FIELDS)).items() if v not in EMPTY_VALUES
    }
    filterset = bind(filterset_class, data, queryset, request)
    if not filterset.is_valid():
        field, message = first_error(filterset)
        raise ValidationFailed(message, field=field)
    return filterset.qs


def page_filter(
    request: HttpRequest,
    filterset_class: type[df.FilterSet],
    queryset: QuerySet[Any],
    *,
    default: Mapping[str, Any] | None = None,
) -> tuple[df.FilterSet, QuerySet[Any], int]:
    """(filterset, rows, status) of a list page from `request.GET` (its `page` aside).

    No filter asked: the `default` filter (e.g. the active records), else every row. A refused
    value: every row, the form's errors, a message, and 400 (never a 500)."""
    asked = {k: v for k, v in request.GET.lists() if k != "page"}
    data: Any = request.GET if asked else (dict(default) if default else None)
    filterset = bind(filterset_class, data, queryset, request)
    if filterset.is_bound and not filterset.is_valid():
        _, message = first_error(filterset)
        messages.error(request, f"Filter not applied: {message}")
        return filterset, queryset, 400
    return filterset, filterset.qs if filterset.is_bound else queryset, 200


def list_page(
    request: HttpRequest,
    template: str,
    filterset_class: type[df.FilterSet],
    queryset: QuerySet[Any],
    context: Mapping[str, Any] | None = None,
    *,
    default: Mapping[str, Any] | None = None,
    present: Callable[[Sequence[Any]], Sequence[Any]] | None = None,
) -> HttpResponse:
    """A list page: the filter form (`form`), the page of rows (`page`, PAGE_SIZE rows paged in
    the database; `present` turns the page's records into what the template shows, for that
    page only) and the pager's query (`query`, for `web/_pager.html`)."""
    filterset, rows, status = page_filter(request, filterset_class, queryset, default=default)
    page = web_page(request, rows)
    if present is not None:
        page.object_list = present(page.object_list)
    return render(
        request,
        template,
        {
            "form": filterset.form,
            "filterset": filterset,
            "page": page,
            "query": pager_query(request),
            **(context or {}),
        },
        status=status,
    )


class YesNoField(df.fields.ChoiceField):
    """ "yes"/"no" from a page's select; True/False from an API boolean."""

    def to_python(self, value: Any) -> str:
        if value is True:
            return "yes"
        if value is False:
            return "no"
        return super().to_python(value)  # type: ignore[no-any-return]


class YesNo(df.ChoiceFilter):
    """Either way, or only the rows that are (yes) or are not (no): the method gets a bool."""

    field_class = YesNoField

    def __init__(self, *args: Any, yes: str = "Yes", no: str = "No", **kwargs: Any) -> None:
        kwargs.setdefault("choices", [("yes", yes), ("no", no)])
        kwargs.setdefault("empty_label", "Any")
        super().__init__(*args, **kwargs)

    def filter(self, qs: Any, value: Any) -> Any:
        if value in EMPTY_VALUES:
            return qs
        return self.get_method(qs)(qs, self.field_name, value == "yes")


class IntegerFilter(df.NumberFilter):
    """A whole number (df.NumberFilter reads a decimal)."""

    field_class = forms.IntegerField


class SelectorFilterSet(df.FilterSet):
    """A FilterSet whose filters mean what a selector's narrowing says: a filter declared with
    `method="narrow"` passes its value to `narrowing(qs, **{keyword: value})`, the keyword
    being its name or `keywords[name]` (so a page's `q` and the API's `search` are one
    meaning). A model instance (a select on the page) passes its primary key."""

    keywords: dict[str, str] = {}

    @staticmethod
    def narrowing(qs: QuerySet[Any], **kwargs: Any) -> QuerySet[Any]:
        raise NotImplementedError

    def narrow(self, qs: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        if hasattr(value, "pk"):
            value = value.pk
        return self.narrowing(qs, **{self.keywords.get(name, name): value})
