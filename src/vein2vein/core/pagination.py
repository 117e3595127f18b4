"""One page size rule for every list, on the pages and in the API.

A list that grows with the plant's history (lots, batches, audit events, deviations) must never
be read whole: a year of data would make the page slow and the worker's memory grow. Every API
list takes `limit` and `offset` (a default and a maximum); every list page shows PAGE_SIZE rows
and a pager. The slice is applied to the queryset, so the database does the limiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.core.paginator import Page as WebPage
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema

API_DEFAULT = 100  # rows an API list answers when no limit is given
API_MAX = 500  # the most one API call may ask for
API_MAX_OFFSET = 1_000_000_000
PAGE_SIZE = 50  # rows on one list page in the browser

T = TypeVar("T")


class Page(Schema):
    """`?limit=&offset=` for an API list; every list's filter schema inherits it."""

    limit: int = Field(
        API_DEFAULT, ge=1, le=API_MAX, description=f"rows to return (at most {API_MAX})"
    )
    offset: int = Field(0, ge=0, le=API_MAX_OFFSET, description="rows to skip")


PAGE_FIELDS = frozenset(Page.model_fields)


def page_of(rows: QuerySet[Any] | Sequence[T], page: Page) -> list[Any]:
    """The requested window of rows; on a queryset, a LIMIT/OFFSET in the database."""
    return list(rows[page.offset : page.offset + page.limit])


def web_page(request: HttpRequest, rows: QuerySet[Any] | Sequence[Any]) -> WebPage:
    """The `?page=` of a list page, PAGE_SIZE rows; an unknown page number shows the last."""
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


def pager_query(request: HttpRequest) -> str:
    """The list's other filters, for the pager's links: the page changes, the filter stays."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
