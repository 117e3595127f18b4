"""The web toolkit (vein2vein.web): list pages and API lists from one FilterSet, action pages
that turn a refusal into a form error or a message, detail pages with history and signatures."""

from __future__ import annotations

import django_filters as df
import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory

from vein2vein.core.errors import Conflict, ValidationFailed
from vein2vein.core.filters import AuditEventFilterSet
from vein2vein.core.models import AuditEvent, Site
from vein2vein.core.pagination import Page
from vein2vein.web import actions, details, lists

pytestmark = pytest.mark.django_db


class SiteFilter(df.FilterSet):
    kind = df.ChoiceFilter(choices=[("clinical", "Clinical"), ("manufacturing", "Mfg")])
    active = lists.Flag(field_name="is_active")

    class Meta:
        model = Site
        fields: list[str] = []


class SiteQuery(Page):
    kind: str | None = None
    active: bool = False


def _request(path: str = "/", method: str = "get", data: dict | None = None):  # type: ignore[no-untyped-def]
    request = getattr(RequestFactory(), method)(path, data or {})
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_the_api_and_the_page_narrow_alike(make_site):
    make_site(code="CLIN-A", kind="clinical")
    off = make_site(code="CLIN-B", kind="clinical")
    Site.objects.filter(pk=off.pk).update(is_active=False)
    make_site(code="MFG-A", kind="manufacturing")
    request = _request("/", data={"kind": "clinical", "active": "on"})
    _, page_rows, status = lists.page_filter(request, SiteFilter, Site.objects.order_by("code"))
    api = lists.api_rows(
        SiteFilter, SiteQuery(kind="clinical", active=True), Site.objects.order_by("code"), request
    )
    assert status == 200
    assert [s.code for s in page_rows] == [s.code for s in api] == ["CLIN-A"]


def test_a_false_flag_narrows_nothing(make_site):
    make_site(code="CLIN-A", kind="clinical")
    rows = lists.api_rows(SiteFilter, SiteQuery(active=False), Site.objects.all(), _request())
    assert rows.count() == Site.objects.count()


def test_a_refused_value_names_the_field_in_the_api_and_on_the_page(make_site):
    with pytest.raises(ValidationFailed) as refused:
        lists.api_rows(SiteFilter, SiteQuery(kind="lunar"), Site.objects.all(), _request())
    assert refused.value.field == "kind" and "kind" in refused.value.message
    request = _request("/", data={"kind": "lunar"})
    filterset, rows, status = lists.page_filter(request, SiteFilter, Site.objects.all())
    assert status == 400 and "kind" in filterset.form.errors
    assert rows.count() == Site.objects.count()  # every row, not a 500
    assert any("kind" in str(m) for m in get_messages(request))


def test_no_filter_asked_shows_the_default_filter(make_site):
    make_site(code="MFG-A", kind="manufacturing")
    make_site(code="CLIN-A", kind="clinical")
    request = _request("/", data={"page": "1"})
    filterset, rows, _ = lists.page_filter(
        request, SiteFilter, Site.objects.all(), default={"kind": "clinical"}
    )
    assert {s.kind for s in rows} == {"clinical"}
    assert filterset.form["kind"].value() == "clinical"


def test_the_audit_filter_reads_a_day_in_the_sites_zone_and_a_moment_as_given(site):
    request = _request("/", data={"since": "2999-01-01"})
    request.site = site
    filterset = AuditEventFilterSet(request.GET, queryset=AuditEvent.objects.all(), request=request)
    assert filterset.is_valid() and not filterset.qs.exists()
    bad = AuditEventFilterSet({"since": "not a day"}, queryset=AuditEvent.objects.all())
    assert not bad.is_valid() and "since" in bad.form.errors


class ReasonForm(forms.Form):
    reason = forms.CharField()


def _action(request, call):  # type: ignore[no-untyped-def]
    return actions.form_action(
        request,
        ReasonForm(request.POST or None),
        call,
        template="core/reason_form.html",
        context={"title": "Do it"},
        success=lambda result: f"/done/{result}/",
        done=lambda result: f"Done {result}.",
    )


def test_form_action_get_shows_the_form(admin_user):
    request = _request()
    request.user = admin_user
    response = _action(request, lambda data: 1)
    assert response.status_code == 200 and b"Do it" in response.content


def test_form_action_success_redirects_with_a_message(admin_user):
    request = _request("/", "post", {"reason": "why"})
    request.user = admin_user
    response = _action(request, lambda data: data["reason"])
    assert response.status_code == 302 and response["Location"] == "/done/why/"
    assert [str(m) for m in get_messages(request)] == ["Done why."]


def test_form_action_refusal_lands_on_the_field_with_its_status(admin_user):
    request = _request("/", "post", {"reason": "why"})
    request.user = admin_user

    def refuse(data):  # type: ignore[no-untyped-def]
        raise Conflict("not now", field="reason")

    response = _action(request, refuse)
    assert response.status_code == 409 and b"not now" in response.content
    invalid = _request("/", "post", {})
    invalid.user = admin_user
    assert _action(invalid, lambda data: 1).status_code == 400


def test_button_action_turns_a_refusal_into_a_message():
    request = _request("/", "post")

    def refuse():  # type: ignore[no-untyped-def]
        raise Conflict("not now")

    response = actions.button_action(request, refuse, success="/back/", done="Done.")
    assert response.status_code == 302 and response["Location"] == "/back/"
    assert [str(m) for m in get_messages(request)] == ["not now"]
    ok = _request("/", "post")
    response = actions.button_action(ok, lambda: 1, success="/back/", done="Done.")
    assert [str(m) for m in get_messages(ok)] == ["Done."]


def test_detail_page_adds_history_and_signatures_in_a_fixed_number_of_queries(
    site, admin_user, django_assert_max_num_queries
):
    request = _request()
    request.user = admin_user
    with django_assert_max_num_queries(4):
        context = {**details.signature_panel(site), "events": list(details.history(site))}
    assert context["sign_record_type"] == "core.site" and context["signatures"] == []


def test_out_fills_a_schema_from_a_record_and_the_given_fields(site):
    from ninja import Schema

    from vein2vein.web.serialize import out

    class SiteOut(Schema):
        id: int
        code: str
        kind: str
        label: str
        note: str = "none"

    answer = out(SiteOut, site, label=f"{site.code} ({site.kind})")
    assert answer.id == site.pk and answer.code == site.code and answer.note == "none"
    assert answer.label == f"{site.code} ({site.kind})"
