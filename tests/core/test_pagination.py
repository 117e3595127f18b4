"""Every list is paginated: the API's lists take limit/offset with one maximum, the pages show
PAGE_SIZE rows and a pager that keeps the filter. The API check reads the OpenAPI document, so
a list added later without a Page fails here without anyone adding it."""

from __future__ import annotations

from functools import cache

import pytest
from django.test import Client, RequestFactory

from tests.core.test_api import bearer
from vein2vein.api import api
from vein2vein.core import services
from vein2vein.core.models import AuditEvent
from vein2vein.core.pagination import API_DEFAULT, API_MAX, PAGE_SIZE, web_page

# Lists bounded by a window of their own instead of limit/offset, and why.
WINDOWED = {
    "/api/v1/chain/slots": "a calendar: `start` and `days` (at most MAX_CALENDAR_DAYS) bound it",
}


@cache
def _array_lists() -> dict[str, dict[str, dict[str, object]]]:
    """GET routes whose 200 answer is a JSON array: path -> {parameter name: its schema}."""
    found = {}
    for path, operations in api.get_openapi_schema()["paths"].items():
        get = operations.get("get")
        if not get:
            continue
        content = get["responses"].get(200, get["responses"].get("200", {})).get("content", {})
        if content.get("application/json", {}).get("schema", {}).get("type") == "array":
            found[path] = {p["name"]: p["schema"] for p in get.get("parameters", [])}
    return found


def test_the_openapi_document_lists_the_api_lists():
    lists = _array_lists()
    assert len(lists) > 30  # the scan found them: a wrong key would find none and pass
    assert "/api/v1/audit/events" in lists
    assert set(WINDOWED) <= set(lists)


@pytest.mark.parametrize("path", sorted(set(_array_lists()) - set(WINDOWED)))
def test_every_api_list_takes_limit_and_offset_with_one_maximum(path):
    params = _array_lists()[path]
    assert "limit" in params and "offset" in params, f"{path} is not paginated"
    assert params["limit"].get("maximum") == API_MAX, path
    assert params["limit"].get("default") == API_DEFAULT, path
    assert params["offset"].get("minimum") == 0, path


def _events(site, admin_user, n: int) -> None:
    for i in range(n):
        services.update_site(actor=admin_user, site_id=site.pk, reason="typo", name=f"Site {i}")


def test_an_api_list_answers_the_window_asked_for(admin_user, site):
    _events(site, admin_user, 4)
    client, headers = Client(), bearer(admin_user)
    everything = client.get("/api/v1/audit/events?limit=500", **headers).json()
    window = client.get("/api/v1/audit/events?limit=2&offset=1", **headers).json()
    assert [e["seq"] for e in window] == [e["seq"] for e in everything[1:3]]
    assert len(everything) == AuditEvent.objects.count() < API_DEFAULT


@pytest.mark.parametrize(
    "path", ["/api/v1/users", "/api/v1/materials/suppliers", "/api/v1/equipment/due"]
)
def test_a_limit_above_the_maximum_is_refused_naming_the_field(admin_user, path):
    response = Client().get(f"{path}?limit={API_MAX + 1}", **bearer(admin_user))
    assert response.status_code == 422, response.content
    assert response.json()["field"] == "limit"


def test_a_list_page_shows_one_page_and_a_pager_that_keeps_the_filter(admin_user, site):
    _events(site, admin_user, PAGE_SIZE + 5)
    client = Client()
    client.force_login(admin_user)
    first = client.get("/audit/?action=site.updated")
    assert first.status_code == 200
    assert len(first.context["page"].object_list) == PAGE_SIZE
    html = first.content.decode()
    assert "Page 1 of 2" in html
    assert 'href="?action=site.updated&amp;page=2"' in html
    second = client.get("/audit/?action=site.updated&page=2")
    assert len(second.context["page"].object_list) == 5


def test_an_unknown_page_number_shows_the_last_page(db):
    request = RequestFactory().get("/?page=99")
    page = web_page(request, list(range(PAGE_SIZE + 1)))
    assert page.number == 2 and list(page) == [PAGE_SIZE]
